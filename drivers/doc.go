// Package drivers runs peerlink in real time: it owns the socket, the OS
// clock and the goroutines, and wraps the pure step in package pump.
//
// One Driver serves one Conn (one UDP socket). Its loop waits for whichever
// comes first — received datagrams, the socket becoming writable while the
// queue holds more, the Node's next deadline, a command from the
// application, the end of a send round — feeds it into the pump, and then
// takes the pump's one step (pump.Pump.Step), the same step the
// simulator's host takes. The loop adds only the OS clock and its
// wake-ups:
//
//	step := pump.Step(now, OnEvent)              // once before the loop
//	for {
//	    arm the timer at step.Next
//	    select {
//	    case msgs := <-received:  pump.HandleMessages(now, msgs, cfg.OnData)
//	    case m := <-streamIn:     pump.HandleMessages(now, m as a datagram from the relay's server, cfg.OnData)
//	    case <-timer:             pump.HandleTimeout(now)
//	    case cmd := <-commands:   cmd(now, pump) and every command waiting  // Send, SendBatch, Connect, ...
//	    case r := <-roundDone:    pump.Sent(r.n, r.err)
//	    case <-writable:          pump.SetWritable()
//	    case <-ctx.Done():        return
//	    }
//	    step = pump.Step(now, OnEvent)           // again at once while step.Again
//	    if step.Round != nil:     hand it to the sending goroutine
//	    hand pump.FlushStreams() to the relay streams (TCP, TLS); pump.StreamRoom() when one had room
//	    wake WaitWritable callers once pump.Writable()
//	    wait for the socket when pump.WantsWritable()
//	}
//
// The step collects the Node's transmits into the queue, hands the Node's
// events to OnEvent, moves the flush on and reports the next deadline. A
// flush is a series of rounds that end when the queue is empty, the socket
// would block, or the kernel budget holds Data back; the sending goroutine
// makes each round's Conn.Send while the loop goes on taking commands,
// whose payloads go to new batches.
//
// SendBatch hands many payloads to the loop in one command and WaitWritable
// waits, without polling, for room after gso.ErrQueueFull (see their docs).
//
// The OS packages (linux, windows, portable) implement only pump.Conn.
//
// # Methods
//
// Run runs the loop. The other methods hand a command to that loop and
// wait for its answer (WaitWritable waits for room in the queue):
//
//	connections  Connect, Close, AddRemoteCandidate, RemoveRemoteCandidate, RestartICE
//	data         Send, SendBatch, WaitWritable, MaxPayload
//	addresses    AddLocalAddress, RemoveLocalAddress, MoveLocalAddress, Rebind
//	servers      AddStunServer, AddRelay, AddRelayConfig, RemoveRelay
//	counters     Stats, ConnStats, RelayStats
//	anything     Do: a function run on the loop with the pump
//
// NewCredentials draws the credentials a side offers before Connect. The
// examples (ExampleDriver and the others) are complete programs.
//
// # Relays over TCP and TLS
//
// A relay added with AddRelayConfig (a turn:…?transport=tcp or turns: URL)
// or with node.WithTransport is reached over a stream that this package
// owns, on every OS (streams.go): dialled on first use with Config.Dial,
// TLS as Relay.TLS chose (server name, roots, SPKI pins), written by its own
// goroutine from a bounded queue, read and cut into messages with
// stunmsg.StreamFramer, dialled again when it breaks (then the Node
// verifies the allocation at once: node.Node.RelayStreamReset), and closed
// after ten minutes without a transmit. Stats.Streams counts it all.
//
// # Callbacks
//
// OnEvent and OnData run on the driver's goroutine, inside its loop: while
// one runs nothing is received, sent or timed. So they must not block, and
// must not call the Driver's commands (Send, Connect, Do, ...), which wait
// for that same loop and would never return. Hand the event or a copy of
// the payload to another goroutine (a buffered channel) and act there. A
// receiver that blocked in OnData stopped its driver's probes too: its
// peer reported ProbeTimeout 15 s later.
//
// Close(id) forgets the connection and emits Closed locally; it sends
// nothing, so the peer learns of it only from the silence (ProbeTimeout,
// or the idle timeout). Tell the peer over your signalling channel when it
// matters. Cancelling Run's context closes the Conn and stops every
// goroutine; it emits no event, and the connections end with it.
//
// # Socket buffers
//
// linux.New raises the socket's receive buffer to 4 MiB and its send
// buffer to 1 MiB (linux.Config; a larger size set before is kept). The
// kernel's usual 208 KiB receive buffer lost 2-12% of a bulk transfer
// whenever the receiving goroutine was descheduled briefly. Without
// CAP_NET_ADMIN the kernel caps the sizes at net.core.rmem_max and
// wmem_max; linux.Conn.Buffers reports what it granted. The portable
// driver sizes only its send buffer, as a bound on the kernel queue.
//
// # Logs
//
// Config.Logger receives log/slog records; the default writes JSON lines
// to stderr at Info. Messages are fixed strings and the fields have stable
// names (the Key constants), so filters keep working across releases:
//
//	msg                     level  fields
//	connection event        DEBUG  event=candidate-gathered|candidate-withdrawn|role-changed conn detail
//	connection event        INFO   event=connected|path-changed conn path; event=closed conn
//	connection event        WARN   event=failed conn reason (CandidateTimeout, ChecksFailed, ProbeTimeout, RelayLost)
//	connection event        WARN   event=relay-lost relay reason (timeout, auth, rejected, retries) code
//	connection event        ERROR  event=failed conn reason=Internal; event=relay-lost reason=internal
//	                               (a timer of peerlink's own that did not advance: a bug, counted
//	                               in node.Stats.StuckTimers; the connection or relay is ended)
//	send failed             WARN   err
//	relay stream dial       WARN   relay err (a TCP or TLS relay's dial or handshake; retried
//	  failed                       after 100 ms, doubling to 5 s)
//	relay stream broken     WARN   relay err (dialled again)
//	relay stream corrupt    WARN   relay err (bytes that start no message; closed, dialled again)
//	waiting for the socket  WARN   err
//	  to drain failed
//	receive failed          ERROR  err (Run returns this error)
//	driver stopping         INFO   reason
//
// Besides slog's own time, level and msg, the keys are: conn (connection
// ID, a number), event, path, reason, relay (server address), code (STUN
// error code), err and detail. Nothing at ERROR is logged in normal
// operation: tests run the drivers with internal/logcheck, which fails
// them on any error-level record.
//
// # Counters
//
// Driver.Stats returns the pump's, the queue's (depth, batches, segments
// per batch), the Node's (drops by reason, clock corrections) and the OS
// Conn's counters (system calls, offload messages, GSO fallbacks);
// Driver.ConnStats and Driver.RelayStats return a connection's (RTT and
// probes, bytes and datagrams each way, drops, path) and a relay's
// (allocation state, refreshes, errors).
package drivers
