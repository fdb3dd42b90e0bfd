// Package drivers runs peerlink in real time: it owns the socket, the OS
// clock and the goroutines, and wraps the pure step in package pump.
//
// One Driver serves one Conn (one UDP socket). Its loop waits for whichever
// comes first — received datagrams, the socket becoming writable while the
// queue holds more, the Node's next deadline, a command from the
// application — feeds it into the pump, delivers events and application
// data through the callbacks in Config, and flushes the queue:
//
//	for {
//	    now := time.Now()
//	    select {
//	    case msgs := <-received:  pump.HandleMessages(now, msgs, cfg.OnData)
//	    case <-deadline:          pump.HandleTimeout(now)
//	    case cmd := <-commands:   cmd(now, pump)       // Connect, Send, Close, ...
//	    case <-writable:          pump.SetWritable()
//	    case <-ctx.Done():        return
//	    }
//	    deliver pump.Node().PollEvent() to cfg.OnEvent
//	    pump.Flush(now)           // until empty, blocked, or Data held by the kernel budget
//	    deadline = pump.PollTimeout()
//	}
//
// The OS packages (linux, windows, portable) implement only pump.Conn.
package drivers
