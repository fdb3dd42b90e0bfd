// Package relay runs a turnserver.Server as a simulated host: datagrams the
// host's wildcard socket receives go to the server, its transmits go out
// through the same socket, and its deadline is a world timer.
package relay

import (
	"errors"
	"net/netip"
	"time"

	"github.com/peerlink/peerlink/sim/netmodel"
	"github.com/peerlink/peerlink/sim/turnserver"
	"github.com/peerlink/peerlink/sim/world"
	"github.com/peerlink/peerlink/state/pump"
)

// DefaultPort is where clients reach the relay (the STUN/TURN port).
const DefaultPort = 3478

// DefaultMaxBacklog bounds transmits held while the socket pushes back;
// beyond it they are dropped and counted, as a real relay drops under
// overload rather than buffering without end.
const DefaultMaxBacklog = 4096

// Config describes a relay host. Server.RelayAddr defaults to the host's
// address and Server.Rand to the world's source.
type Config struct {
	Server     turnserver.Config
	Port       uint16 // 0 means DefaultPort
	Socket     netmodel.SocketConfig
	MaxBacklog int // 0 means DefaultMaxBacklog
}

// Stats counts what the host loop did, apart from the server's own Stats.
type Stats struct {
	Sent, SendErrors, DropBacklogFull uint64
	MaxBacklog                        int
	// Restarts counts Restart calls; DropRestart the backlog they threw
	// away.
	Restarts, DropRestart uint64
}

// Relay is the TURN server on its host.
type Relay struct {
	w       *world.World
	h       *netmodel.Host
	sock    *netmodel.Socket
	srv     *turnserver.Server
	srvCfg  turnserver.Config // what Restart starts the next server with
	listen  netip.AddrPort
	timer   *world.Timer
	backlog []turnserver.Transmit // waiting for the socket, oldest first
	limit   int
	stats   Stats
	// streams are the clients that reach the server over TCP or TLS
	// (stream.go); few, so a scan finds one.
	streams []*Stream
}

// New starts a relay on h, which must have no wildcard socket yet.
func New(w *world.World, h *netmodel.Host, cfg Config) (*Relay, error) {
	if !cfg.Server.RelayAddr.IsValid() {
		cfg.Server.RelayAddr = h.Addr()
	}
	if cfg.Server.Rand == nil {
		cfg.Server.Rand = w.Rand()
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	srv, err := turnserver.New(cfg.Server)
	if err != nil {
		return nil, err
	}
	sock, err := h.BindAll(cfg.Socket)
	if err != nil {
		return nil, err
	}
	r := &Relay{w: w, h: h, sock: sock, srv: srv, srvCfg: cfg.Server, listen: netip.AddrPortFrom(h.Addr(), cfg.Port), limit: cfg.MaxBacklog}
	r.timer = w.NewTimer(h.Name()+"/turn-timeout", r.timeout)
	sock.SetNotify(r.notify)
	return r, nil
}

// Addr is the address clients send their TURN requests to.
func (r *Relay) Addr() netip.AddrPort { return r.listen }

// Server is the TURN state machine, for inspecting allocations and stats.
func (r *Relay) Server() *turnserver.Server { return r.srv }

// Restart replaces the server by a fresh one of the same configuration, as
// a TURN server's process restarting (a deploy, a crash) does: every
// allocation, permission, channel and nonce is forgotten, while the relay
// keeps its address and listen port. What the old server had not sent yet
// dies with it (counted in Stats.DropRestart). Clients find out from the
// 437 to their next request on the allocation; ChannelData and Send
// indications meanwhile are dropped for want of an allocation.
func (r *Relay) Restart() error {
	srv, err := turnserver.New(r.srvCfg)
	if err != nil {
		return err
	}
	r.srv = srv
	r.w.Note(r.h.Name(), "turn server restarted")
	r.stats.Restarts++
	r.stats.DropRestart += uint64(len(r.backlog))
	clear(r.backlog)
	r.backlog = r.backlog[:0:0]
	for _, st := range r.streams {
		st.reset(r.w.Now())
	}
	r.arm()
	return nil
}

// Host is the relay's host.
func (r *Relay) Host() *netmodel.Host { return r.h }

// Stats returns the host loop's counters.
func (r *Relay) Stats() Stats { return r.stats }

func (r *Relay) notify(now time.Time, ev netmodel.SocketEvent) {
	if ev == netmodel.Readable {
		for p, ok := r.sock.ReadFrom(); ok; p, ok = r.sock.ReadFrom() {
			r.srv.HandleDatagram(now, p.Src, p.Dst, p.Payload)
			r.collect()
		}
	}
	r.flush()
	r.arm()
}

func (r *Relay) timeout(now time.Time) {
	r.srv.HandleTimeout(now)
	r.collect()
	r.flush()
	r.arm()
}

// collect moves the server's transmits into the bounded backlog.
func (r *Relay) collect() {
	for tr, ok := r.srv.PollTransmit(); ok; tr, ok = r.srv.PollTransmit() {
		if st := r.streamTo(tr.To); st != nil && tr.From == r.listen {
			st.send(r.w.Now(), tr.Payload)
			continue
		}
		if len(r.backlog) >= r.limit {
			r.stats.DropBacklogFull++
			continue
		}
		r.backlog = append(r.backlog, tr)
		r.stats.MaxBacklog = max(r.stats.MaxBacklog, len(r.backlog))
	}
}

// flush sends the backlog until the socket pushes back; a Writable
// notification resumes it.
func (r *Relay) flush() {
	for len(r.backlog) > 0 {
		tr := r.backlog[0]
		err := r.sock.WriteFrom(tr.From, tr.To, tr.Payload)
		if errors.Is(err, pump.ErrWouldBlock) {
			return
		}
		if err != nil {
			r.stats.SendErrors++
		} else {
			r.stats.Sent++
		}
		r.backlog[0] = turnserver.Transmit{}
		r.backlog = r.backlog[1:]
	}
	r.backlog = r.backlog[:0:0]
}

func (r *Relay) arm() {
	if at, ok := r.srv.PollTimeout(); ok {
		r.timer.Reset(at)
	} else {
		r.timer.Stop()
	}
}
