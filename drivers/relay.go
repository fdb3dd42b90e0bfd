package drivers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/peerlink/peerlink/state/node"
	"github.com/peerlink/peerlink/state/pump"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// Relay describes a TURN server for Driver.AddRelayConfig, over UDP, TCP or
// TLS. The relayed leg, from the server to peers, is UDP whichever is
// chosen, so a peer needs nothing to reach a relay candidate that came
// over TCP; TCP and TLS are for networks that block UDP (RFC 8656 section
// 3.1). The driver dials the stream from this host (Config.Dial), re-dials
// it when it breaks, and the TURN client re-allocates on the new one.
type Relay struct {
	// URL names the server, RFC 7065 style: "turn:HOST[:PORT]" (UDP),
	// "turn:HOST[:PORT]?transport=tcp" (TCP), "turns:HOST[:PORT]" (TLS,
	// over TCP). The port defaults to 3478, or 5349 for turns. HOST is an
	// IP address or a name, resolved once, here, to its first IPv4
	// address. When URL is empty, Server and Transport are used instead.
	URL       string
	Server    netip.AddrPort
	Transport node.Transport
	// Local is the UDP socket address the relay belongs to (the Driver's
	// socket): the Node knows the relay's traffic by it, whatever the
	// transport.
	Local netip.AddrPort
	// Username and Password are the long-term credentials.
	Username, Password string
	// TLS chooses how a TLS relay is authenticated.
	TLS RelayTLS
	// Options tune the relay's client further (node.WithMaxPayload).
	Options []node.RelayOption
}

// RelayTLS is the TLS configuration of a relay reached over TLS.
type RelayTLS struct {
	// ServerName is checked against the certificate and sent as SNI. It
	// defaults to URL's host (a name, or an IP address that the
	// certificate must list), or to Server's address.
	ServerName string
	// RootCAs verifies the certificate chain; nil means the system's roots.
	RootCAs *x509.CertPool
	// PinSHA256, when not empty, pins the server's key instead of
	// verifying a chain: the leaf certificate's SubjectPublicKeyInfo must
	// hash (SHA-256) to one of these, and neither the chain nor the name
	// is checked (a self-signed certificate works; SPKIHash computes a
	// pin). A pin survives certificate renewal as long as the key stays.
	PinSHA256 [][]byte
}

// SPKIHash is the pin of cert for RelayTLS.PinSHA256: the SHA-256 of its
// SubjectPublicKeyInfo.
func SPKIHash(cert *x509.Certificate) []byte {
	h := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return h[:]
}

// ErrRelayURL: Relay.URL is not a TURN URL this driver understands.
var ErrRelayURL = errors.New("drivers: invalid relay URL")

// ParseRelayURL splits a TURN URL (see Relay.URL) into its server address,
// its transport and the host it names (the default TLS server name).
func ParseRelayURL(ctx context.Context, s string) (server netip.AddrPort, transport node.Transport, host string, err error) {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrRelayURL, s, why) }
	u, err := url.Parse(s)
	if err != nil {
		return server, 0, "", bad(err.Error())
	}
	port := 3478
	switch u.Scheme {
	case "turn":
		transport = node.UDP
		switch q := u.Query().Get("transport"); q {
		case "", "udp":
		case "tcp":
			transport = node.TCP
		default:
			return server, 0, "", bad("transport must be udp or tcp")
		}
	case "turns":
		transport, port = node.TLS, 5349
		if q := u.Query().Get("transport"); q != "" && q != "tcp" {
			return server, 0, "", bad("turns runs over tcp only")
		}
	default:
		return server, 0, "", bad("scheme must be turn or turns")
	}
	hostport := u.Opaque
	if hostport == "" || strings.Contains(hostport, "@") {
		return server, 0, "", bad("want turn:HOST[:PORT] with no user part")
	}
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return server, 0, "", bad("port out of range")
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	addr, err := netip.ParseAddr(host)
	if err != nil {
		addrs, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if lerr != nil || len(addrs) == 0 {
			return server, 0, "", bad(fmt.Sprintf("cannot resolve %s: %v", host, lerr))
		}
		addr = addrs[0]
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), transport, host, nil
}

// AddRelayConfig adds the relay r to the Node (node.Node.AddRelay with
// node.WithTransport) and keeps its TLS configuration for the stream.
// RemoveRelay and RelayStats take r's server address. AddRelay with
// node.WithTransport(node.TLS) is the same with the system's roots and
// the server's IP address as the name.
func (d *Driver) AddRelayConfig(ctx context.Context, r Relay) error {
	server, transport, host := r.Server, r.Transport, r.Server.Addr().String()
	if r.URL != "" {
		var err error
		if server, transport, host, err = ParseRelayURL(ctx, r.URL); err != nil {
			return err
		}
	}
	var cfg *tls.Config
	if transport == node.TLS {
		cfg = relayTLSConfig(r.TLS, host)
	}
	opts := append([]node.RelayOption{node.WithTransport(transport)}, r.Options...)
	return d.Do(ctx, func(now time.Time, p *pump.Pump) error {
		if err := p.Node().AddRelay(now, server, r.Local, r.Username, r.Password, opts...); err != nil {
			// A refused relay (ErrRelayExists among others) must not
			// change the TLS of the one already there.
			return err
		}
		// Stored on the loop, before the step that follows hands the
		// relay's first transmit to a stream that dials with it.
		d.streams.setTLS(server, cfg)
		return nil
	})
}

// setTLS keeps cfg for the TLS streams to server, from now on. It is kept
// after the relay goes (RemoveRelay's release, and a dial in its closing
// window, still need it; the Node may also drop and re-add a relay on its
// own), until AddRelayConfig sets another or AddRelay adds the server with
// the defaults: one entry per TLS server the program added.
func (s *streams) setTLS(server netip.AddrPort, cfg *tls.Config) {
	if cfg == nil {
		return
	}
	server = stunmsg.Unmap(server) // as the Node names the relay
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tls[server] = cfg
}

// forgetTLS drops what AddRelayConfig chose for server: its streams dial
// with the defaults (tlsFor).
func (s *streams) forgetTLS(server netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tls, stunmsg.Unmap(server))
}

// relayTLSConfig builds the tls.Config of one relay from the caller's
// choice.
func relayTLSConfig(r RelayTLS, host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.ServerName, RootCAs: r.RootCAs}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if len(r.PinSHA256) > 0 {
		pins := r.PinSHA256
		// The pin replaces chain and name verification, which
		// InsecureSkipVerify turns off; VerifyConnection still runs.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("drivers: relay sent no certificate")
			}
			got := SPKIHash(cs.PeerCertificates[0])
			for _, p := range pins {
				if bytes.Equal(p, got) {
					return nil
				}
			}
			return fmt.Errorf("drivers: relay certificate key %x matches no pin", got)
		}
	}
	return cfg
}

// tlsFor returns the TLS configuration AddRelay stored for server, or the
// system's defaults for a relay added to the Node directly.
func (s *streams) tlsFor(server netip.AddrPort) *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.tls[server]; c != nil {
		return c
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, ServerName: server.Addr().String()}
}
