package node

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/peerlink/peerlink/state/gso"
	"github.com/peerlink/peerlink/state/stunmsg"
)

// This file keeps server-reflexive candidates current. A NAT may give our
// address a new mapping at any time: it rebound after a sleep, flushed its
// table, or the uplink behind it failed over to another ISP. Every
// Config.StunRefresh each STUN server request is sent again (a new
// transaction, the same retransmission schedule), and a mapping that
// differs from the candidate its base gave replaces it: the old one is
// withdrawn from every connection (CandidateWithdrawn) and the new one
// announced (CandidateGathered), for the application to signal. The peer,
// withdrawing the old candidate, moves off it as soon as a pair to the new
// one works (ice roaming). A refresh that gets no answer leaves the
// candidate as it was: the server may be down while the mapping holds.

// refreshMapping sends a done request again, as a new transaction.
func (n *Node) refreshMapping(now time.Time, r *gatherReq) {
	var id stunmsg.TxID
	binary.BigEndian.PutUint32(id[0:4], gatherTag)
	binary.BigEndian.PutUint64(id[4:12], n.cfg.Rand.Uint64())
	r.id, r.payload = id, stunmsg.PlainBindingRequest(id)
	r.done, r.sends, r.rto, r.nextAt = false, 1, n.cfg.StunRTO, now.Add(n.cfg.StunRTO)
	n.transmit(r.local, r.server, r.payload, gso.Control)
}

// mappingChanged handles a mapping of base when a server-reflexive
// candidate of that base is kept already: unchanged, nothing happens; a
// host address (no NAT any more) withdraws the candidate; another mapping
// replaces it. It reports false when base has no candidate of the
// mapping's family, for addSrflx to consider it as a new one.
func (n *Node) mappingChanged(base, server, mapped netip.AddrPort) bool {
	i := slices.IndexFunc(n.gather.srflx, func(s stunmsg.Candidate) bool {
		return s.Base == base && family(s.Addr) == family(mapped)
	})
	if i < 0 {
		return false
	}
	old := n.gather.srflx[i]
	if old.Addr == mapped {
		return true
	}
	n.gather.srflx = slices.Delete(n.gather.srflx, i, i+1)
	n.withdrawSrflx(old)
	n.addSrflx(base, server, mapped)
	return true
}

// withdrawSrflx tells every live connection that a server-reflexive
// candidate is gone.
func (n *Node) withdrawSrflx(c Candidate) {
	n.order.Ascend(func(id ConnID) bool {
		if n.conns[id].failed == 0 {
			n.emit(CandidateWithdrawn{Conn: id, Candidate: c})
		}
		return true
	})
}
