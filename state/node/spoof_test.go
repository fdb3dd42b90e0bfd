package node

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v2"

	"github.com/peerlink/peerlink/state/ice"
	"github.com/peerlink/peerlink/state/stunmsg"
)

const peerPwd = "pppppppppppppppppppppppp"

var peerCreds = Credentials{Ufrag: "peerpeer", Pwd: peerPwd}

// firstCheck sets up node a connecting to a silent peer at b's address and
// returns the node, its local credentials and its first check.
func firstCheck(t *testing.T) (*Node, Credentials, Transmit, time.Time) {
	h := newPairHarness(t, 90, ice.Config{})
	n := h.nodes[0]
	local, err := n.Connect(h.now, connID, Controlling, Credentials{}, peerCreds)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.AddRemoteCandidate(h.now, connID, host(h.addrs[1])); err != nil {
		t.Fatal(err)
	}
	drainCount(n)
	n.HandleTimeout(h.now)
	tx, ok := n.PollTransmit()
	if !ok {
		t.Fatal("no first check")
	}
	tx.Payload = bytes.Clone(tx.Payload)
	drainCount(n)
	return n, local, tx, h.now
}

func txIDOf(t *testing.T, b []byte) stunmsg.TxID {
	var m stun.Message
	if err := stunmsg.Decode(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.TransactionID
}

// nominationsWithin runs n's timers for d and counts the checks it sends
// with USE-CANDIDATE: the controlling side sends one only after a check
// succeeded, so this is how a test sees that a response was accepted.
func nominationsWithin(t *testing.T, n *Node, from time.Time, d time.Duration) int {
	count := 0
	for now := from; !now.After(from.Add(d)); now = now.Add(10 * time.Millisecond) {
		n.HandleTimeout(now)
		for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
			var m stun.Message
			if stunmsg.Decode(tx.Payload, &m) == nil && stunmsg.IsBindingRequest(&m) {
				if r, err := stunmsg.ParseBindingRequest(&m); err == nil && r.UseCandidate {
					count++
				}
			}
		}
		for _, ok := n.PollEvent(); ok; _, ok = n.PollEvent() {
		}
	}
	return count
}

func TestForgedBindingResponsesNeverChangeStateAndAreCountedByReason(t *testing.T) {
	mapped := netip.MustParseAddrPort("192.0.2.7:9")
	cases := []struct {
		name   string
		forge  func(id stunmsg.TxID, check Transmit) (src netip.AddrPort, b []byte)
		reason DropReason
	}{
		{"a transaction ID we never used", func(id stunmsg.TxID, c Transmit) (netip.AddrPort, []byte) {
			binary.BigEndian.PutUint64(id[4:], 12345) // keeps the routing tag
			return c.Dst, stunmsg.SuccessResponse(id, mapped, peerPwd)
		}, DropUnknownTransaction},
		{"a source other than the check's destination", func(id stunmsg.TxID, c Transmit) (netip.AddrPort, []byte) {
			return netip.AddrPortFrom(c.Dst.Addr(), c.Dst.Port()+1), stunmsg.SuccessResponse(id, mapped, peerPwd)
		}, DropSourceMismatch},
		{"integrity under the wrong password", func(id stunmsg.TxID, c Transmit) (netip.AddrPort, []byte) {
			return c.Dst, stunmsg.SuccessResponse(id, mapped, "wrongwrongwrongwrongwrong")
		}, DropIntegrity},
		{"no integrity at all", func(id stunmsg.TxID, c Transmit) (netip.AddrPort, []byte) {
			m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: mapped.Addr().AsSlice(), Port: int(mapped.Port())}, stun.Fingerprint)
			if err != nil {
				panic(err)
			}
			return c.Dst, m.Raw
		}, DropIntegrity},
		{"a broken fingerprint", func(id stunmsg.TxID, c Transmit) (netip.AddrPort, []byte) {
			b := stunmsg.SuccessResponse(id, mapped, peerPwd)
			b[len(b)-1] ^= 1
			return c.Dst, b
		}, DropMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, _, check, now := firstCheck(t)
			src, b := tc.forge(txIDOf(t, check.Payload), check)
			n.HandleDatagram(now, check.Src, src, b)
			if got := drainCount(n); got != 0 {
				t.Fatalf("%d transmits in answer to a forged response", got)
			}
			if s, _ := n.ConnStats(connID); s.Dropped[tc.reason] != 1 && n.Stats().Drops(tc.reason) != 1 {
				t.Fatalf("drops %v, want one %v", n.Stats().Dropped, tc.reason)
			}
			if got := nominationsWithin(t, n, now, time.Second); got != 0 {
				t.Fatalf("the forged response was taken: %d nominations followed", got)
			}
			checkInvariants(t, n)
		})
	}
	// The control: the genuine response is taken, and the test sees it.
	n, _, check, now := firstCheck(t)
	n.HandleDatagram(now, check.Src, check.Dst, stunmsg.SuccessResponse(txIDOf(t, check.Payload), mapped, peerPwd))
	if got := nominationsWithin(t, n, now, time.Second); got == 0 {
		t.Fatal("the genuine response did not lead to a nomination: the test cannot see acceptance")
	}
}

func TestChecksWithBadCredentialsGetNoAnswerAtAll(t *testing.T) {
	peer := netip.MustParseAddrPort("10.0.0.2:5000")
	cases := []struct {
		name   string
		req    func(local Credentials) []byte
		reason DropReason
	}{
		{"wrong password", func(l Credentials) []byte {
			return stunmsg.BindingRequest{Username: l.Ufrag + ":" + peerCreds.Ufrag, Priority: 1}.Marshal("wrongwrongwrongwrongwrong")
		}, DropIntegrity},
		{"wrong sender ufrag", func(l Credentials) []byte {
			return stunmsg.BindingRequest{Username: l.Ufrag + ":someone", Priority: 1}.Marshal(l.Pwd)
		}, DropUsername},
		{"unknown ufrag", func(l Credentials) []byte {
			return stunmsg.BindingRequest{Username: "nobody00:" + peerCreds.Ufrag, Priority: 1}.Marshal(l.Pwd)
		}, DropUnknownUfrag},
		{"no USERNAME", func(l Credentials) []byte {
			return stunmsg.PlainBindingRequest(stunmsg.TxID{1, 2, 3})
		}, DropMalformed},
		{"a role conflict under the wrong password", func(l Credentials) []byte {
			return stunmsg.BindingRequest{Username: l.Ufrag + ":" + peerCreds.Ufrag, Priority: 1,
				Controlling: true, TieBreaker: ^uint64(0)}.Marshal("wrongwrongwrongwrongwrong")
		}, DropIntegrity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, local, check, now := firstCheck(t)
			n.HandleDatagram(now, check.Src, peer, tc.req(local))
			if got := drainCount(n); got != 0 {
				t.Fatalf("%d transmits in answer to an unauthenticated check", got)
			}
			if got := n.Stats().Drops(tc.reason); got != 1 {
				t.Fatalf("drops %v, want one %v", n.Stats().Dropped, tc.reason)
			}
			checkInvariants(t, n)
		})
	}
}

// Every answer the Node sends to a check is no larger than the check, so
// a spoofed source gains nothing by making us answer it (and only a peer
// holding the password gets an answer at all).
func TestAnswersAreNeverLargerThanTheChecksTheyAnswer(t *testing.T) {
	for _, conflict := range []bool{false, true} {
		n, local, check, now := firstCheck(t)
		for _, peer := range []netip.AddrPort{netip.MustParseAddrPort("10.0.0.2:5000"), netip.MustParseAddrPort("[2001:db8::2]:5000")} {
			// The shortest USERNAME credentials allow: 4-character ufrags.
			req := stunmsg.BindingRequest{Username: local.Ufrag + ":" + peerCreds.Ufrag, Priority: 1,
				// Claiming our role with the lowest tie-breaker earns a 487.
				Controlling: conflict, TieBreaker: 0}.Marshal(local.Pwd)
			n.HandleDatagram(now, check.Src, peer, req)
			answered := 0
			for tx, ok := n.PollTransmit(); ok; tx, ok = n.PollTransmit() {
				if tx.Dst != peer {
					continue // a triggered check of our own, paced
				}
				answered++
				if len(tx.Payload) > len(req) {
					t.Fatalf("conflict=%v peer %v: answer of %d bytes to a check of %d", conflict, peer, len(tx.Payload), len(req))
				}
			}
			if answered != 1 {
				t.Fatalf("conflict=%v: %d answers to an authentic check, want 1", conflict, answered)
			}
		}
	}
}

func stunmsgRequest(username string, controlling bool, pwd string) []byte {
	return stunmsg.BindingRequest{Username: username, Priority: 1, Controlling: controlling}.Marshal(pwd)
}
