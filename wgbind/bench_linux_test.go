package wgbind

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// benchLink is two namespaces joined by a veth with no limit, for
// measuring the tunnel rather than the network.
type benchLink struct {
	x, y         string
	addrX, addrY netip.Addr
	tag          string
}

func newBenchLink(t *testing.T) *benchLink {
	t.Helper()
	requireTopo(t)
	tag := fmt.Sprintf("%06x", rand.Uint32()>>8)
	l := &benchLink{x: "wgb-" + tag + "-x", y: "wgb-" + tag + "-y", tag: tag,
		addrX: netip.MustParseAddr("10.203.0.1"), addrY: netip.MustParseAddr("10.203.0.2")}
	for _, ns := range []string{l.x, l.y} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "bx"+tag, "netns", l.x, "type", "veth", "peer", "name", "by"+tag, "netns", l.y)
	run(t, "ip", "-n", l.x, "addr", "add", l.addrX.String()+"/24", "dev", "bx"+tag)
	run(t, "ip", "-n", l.y, "addr", "add", l.addrY.String()+"/24", "dev", "by"+tag)
	run(t, "ip", "-n", l.x, "link", "set", "bx"+tag, "up")
	run(t, "ip", "-n", l.y, "link", "set", "by"+tag, "up")
	return l
}

// benchPeerlink measures iperf3 TCP through WireGuard over peerlink's Bind
// on a direct path over the link.
func benchPeerlink(t *testing.T, d time.Duration) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newBenchLink(t)
	mk := func(name, ns string, addr netip.Addr) *side {
		var uc *net.UDPConn
		inNamespace(t, ns, func() (err error) {
			uc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: addr.AsSlice()})
			return err
		})
		return newSide(t, ctx, name, uc, Config{})
	}
	x, y := mk("x", l.x, l.addrX), mk("y", l.y, l.addrY)
	sig := connect(t, ctx, x, y, hostOnly)
	await(t, sig.others[0], 10*time.Second, "x connected", isConnected)
	var retries, sendErrs atomic.Int64
	x.startRealDevice(t, tunDevice(t, l.x, "wgx"+l.tag, wgAddrA, wgMTU), y, wgAddrB.String()+"/32", &retries, &sendErrs)
	y.startRealDevice(t, tunDevice(t, l.y, "wgy"+l.tag, wgAddrB, wgMTU), x, wgAddrA.String()+"/32", &retries, &sendErrs)
	return iperfTCP(t, l.x, l.y, wgAddrB, d)
}

// benchStd measures the same with wireguard-go's own StdNetBind: its
// sockets are opened by the device's Up, so Up runs inside the namespace.
func benchStd(t *testing.T, d time.Duration) float64 {
	l := newBenchLink(t)
	type host struct {
		ns   string
		addr netip.Addr
		priv [32]byte
		pub  [32]byte
		dev  *device.Device
	}
	hosts := []*host{{ns: l.x, addr: l.addrX}, {ns: l.y, addr: l.addrY}}
	tuns := []string{"wgx" + l.tag, "wgy" + l.tag}
	wg := []netip.Addr{wgAddrA, wgAddrB}
	for _, h := range hosts {
		h.priv, h.pub = newKeyPair(t)
	}
	for i, h := range hosts {
		peer := hosts[1-i]
		td := tunDevice(t, h.ns, tuns[i], wg[i], wgMTU)
		h.dev = device.NewDevice(td, conn.NewStdNetBind(), device.NewLogger(device.LogLevelError, h.ns+" "))
		t.Cleanup(h.dev.Close)
		cfg := fmt.Sprintf("private_key=%s\nlisten_port=51820\npublic_key=%s\nendpoint=%s:51820\nallowed_ip=%s/32\n",
			hex.EncodeToString(h.priv[:]), hex.EncodeToString(peer.pub[:]), peer.addr, wg[1-i])
		inNamespace(t, h.ns, func() error {
			if err := h.dev.IpcSet(cfg); err != nil {
				return err
			}
			return h.dev.Up()
		})
	}
	return iperfTCP(t, l.x, l.y, wgAddrB, d)
}

// TestBenchTCP is make bench-wg: iperf3 TCP through the tunnel with
// peerlink's Bind and with StdNetBind, in one run, on the same topology.
func TestBenchTCP(t *testing.T) {
	if os.Getenv("WG_BENCH") == "" {
		t.Skip("a measurement, not a test: make bench-wg runs it (WG_BENCH=1)")
	}
	d := 5 * time.Second
	// Each side runs twice, in the order peerlink, StdNetBind, StdNetBind,
	// peerlink, and keeps its better run: load from elsewhere on a shared
	// machine comes and goes, and this order gives neither side the
	// quieter start or end.
	var pl, std float64
	for i, name := range []string{"peerlink", "stdnetbind", "stdnetbind", "peerlink"} {
		t.Run(fmt.Sprintf("%s-%d", name, i), func(t *testing.T) {
			if name == "peerlink" {
				pl = max(pl, benchPeerlink(t, d))
			} else {
				std = max(std, benchStd(t, d))
			}
		})
	}
	if pl == 0 || std == 0 {
		t.Fatal("a measurement failed")
	}
	fmt.Printf("wg tcp peerlink_gbps=%.2f stdnetbind_gbps=%.2f ratio=%.2f\n", pl/1e9, std/1e9, pl/std)
}
