// Package wgbind carries WireGuard over peerlink: Bind is a
// golang.zx2c4.com/wireguard/conn.Bind whose endpoints are peerlink
// connections instead of UDP addresses.
//
// The program owns signalling, as with any peerlink Driver: it builds a Bind
// (which builds the Driver), runs the Driver, calls Connect for each peer
// with the credentials it exchanged, and forwards the CandidateGathered and
// CandidateWithdrawn events its OnEvent receives to the peer, feeding the
// peer's to AddRemoteCandidate. Failed{Reason} reaches the same OnEvent. The
// WireGuard peer's endpoint is set to EndpointString(id) through the UAPI
// ("endpoint=peerlink:7"); wireguard-go never sees an IP address, so a path
// change (a relay replaced by a direct path, a failover, a TURN
// re-allocation) is invisible to it.
//
// # Endpoints
//
// Each connection has exactly one Endpoint, returned for every datagram it
// delivers, so wireguard-go's roaming never moves a peer. DstToBytes (the
// input of WireGuard's cookie MAC) is the connection ID and so stable for
// the connection's life, whatever its path; DstIP is a synthetic address in
// fd70:6c6b::/64 derived from the ID, one per connection, which is what
// wireguard-go's handshake rate limiter keys on.
//
// # Lifecycle
//
// The Driver outlives the Bind's Open and Close: wireguard-go closes and
// reopens its Bind on BindUpdate, a listen-port change and every device
// down and up, and none of that touches a connection or a relay
// allocation. Close makes every ReceiveFunc of that Open return
// net.ErrClosed and Send return net.ErrClosed; datagrams that arrive while
// the Bind is closed are dropped and counted (Stats.ClosedDrops), as a
// closed socket would. So bring the device up before feeding the peer's
// candidates to the Driver: otherwise the connection may be up, and the
// peer's first handshake arrive, before the Bind is open, and WireGuard
// retries only after 5 s. For the same reason let one side initiate (a
// persistent keepalive on one side only): two initiations held until the
// path exists cross, and WireGuard resolves that by the same retry.
// examples/wgpeer does both.
//
// # Receive
//
// The Driver delivers each datagram on its own goroutine, which must not
// block. The Bind copies the payload straight into the buffers of a
// ReceiveFunc that is waiting (one copy, the same one a socket read
// makes), and otherwise into a bounded ring of pooled buffers
// (Config.QueueLen) that the next ReceiveFunc call drains. When the ring is
// full the datagram is dropped and counted (Stats.QueueDrops): the loss
// WireGuard's inner protocols already handle, never a blocked driver.
//
// # Send and the MTU
//
// wireguard-go hands Send up to BatchSize datagrams for one endpoint; they
// reach the Driver in one hand-over (Driver.SendBatch). Back-pressure
// (gso.ErrQueueFull) makes Send wait in Driver.WaitWritable, as a full
// socket buffer would, for at most Config.SendWait; then it returns the
// error and wireguard-go drops the rest.
//
// A WireGuard transport message is the inner packet plus 32 bytes (a
// 16-byte header and a 16-byte tag; wireguard-go pads only up to the MTU).
// A datagram larger than the connection's path carries
// (Driver.MaxPayload) is refused: Send returns an error wrapping
// node.ErrPayloadTooLarge. A relayed path carries 1500 bytes by default,
// so the tunnel MTU must be at most 1468 there; on a 1500-byte underlay
// the direct path carries 1472 bytes before the kernel fragments (1452
// toward IPv6), and TURN's ChannelData adds 4 bytes on the way to the
// relay. wireguard-go's default MTU, 1420, fits all of these: set it, or
// anything up to MaxPayload-32 of the smallest path the connection may
// take.
package wgbind
