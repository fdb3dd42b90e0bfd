// Package windows is peerlink's Conn for Windows: one UDP socket whose sends
// go through WSASendMsg (net.UDPConn.WriteMsgUDPAddrPort) with a
// UDP_SEND_MSG_SIZE control message, so that one call carries many
// datagrams (USO), and whose receives go through WSARecvMsg with
// IP_PKTINFO/IPV6_PKTINFO and ECN control messages.
//
// Receive coalescing (URO, UDP_RECV_MAX_COALESCED_SIZE) is off unless
// Config.EnableURO asks for it: it has been unreliable in the field.
//
// The control-message encoding (cmsg.go) builds on every OS so that its
// golden-byte tests run in CI on Linux; the Conn itself builds only for
// Windows. Winsock completes sends through overlapped I/O, so Send blocks
// rather than returning pump.ErrWouldBlock, and RawConn.Write, which fails on
// Windows instead of waiting, is never used.
package windows
