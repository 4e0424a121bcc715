package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// errCNAME is a target name answered for another name: the agent refuses to
// send there. It comes wrapped in a *net.DNSError, so it counts as classDNS.
var errCNAME = errors.New("answered for another name (a CNAME), not followed")

// tcpDialer connects over TCP to the plan's target.address.
type tcpDialer struct {
	addr string // host:port to dial
	name string // the host when it is a DNS name, which the agent resolves itself; "" for an IP address
	port uint16

	// resolver resolves name; nil is net.DefaultResolver. Tests point it
	// at their own DNS server.
	resolver *net.Resolver
}

// newTCPDialer returns the dialer of address, HOST:PORT as runplan has
// validated it, resolving a name with resolver (nil: the default).
func newTCPDialer(address string, resolver *net.Resolver) *tcpDialer {
	host, port, _ := net.SplitHostPort(address)
	p, _ := strconv.ParseUint(port, 10, 16)
	d := &tcpDialer{addr: address, port: uint16(p), resolver: resolver}
	if net.ParseIP(host) == nil {
		d.name = host
	}
	return d
}

// dial connects by deadline, or until ctx ends. An IP address is dialled as
// it is. A name is resolved anew on every dial, since a headless Service's
// endpoints come and go, and by the agent itself: the dialer would resolve
// it again, and that answer would not have been checked for a CNAME.
func (d *tcpDialer) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	if d.name == "" {
		nd := net.Dialer{Deadline: deadline}
		return nd.DialContext(ctx, "tcp", d.addr)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	addrs, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	var first error
	for i, addr := range addrs {
		// As net.Dialer does, each address gets a share of the time left, so
		// that one that never answers does not use it all.
		nd := net.Dialer{Deadline: partialDeadline(time.Now(), deadline, len(addrs)-i)}
		conn, err := nd.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, d.port).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve returns the addresses of d.name, or an error wrapping errCNAME when
// the answer is for another name. That is how cluster DNS answers for a
// Service of type ExternalName, which sends wherever its owner likes; and for
// a relative name answered under a search domain, which is not the name the
// agent was given either.
func (d *tcpDialer) resolve(ctx context.Context) ([]netip.Addr, error) {
	r := d.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	canonical, err := r.LookupCNAME(ctx, d.name)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(strings.TrimSuffix(canonical, "."), strings.TrimSuffix(d.name, ".")) {
		return nil, &net.DNSError{Err: errCNAME.Error() + ": " + canonical, Name: d.name, UnwrapErr: errCNAME}
	}
	addrs, err := r.LookupNetIP(ctx, "ip", d.name)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: d.name, IsNotFound: true}
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap() // an IPv4 address from a 16-byte net.IP: dial it as IPv4
	}
	return addrs, nil
}

// partialDeadline is the deadline for one of addrsLeft addresses still to
// try: an equal share of the time left, but at least 2s if there is that much.
func partialDeadline(now, deadline time.Time, addrsLeft int) time.Time {
	const floor = 2 * time.Second
	left := deadline.Sub(now)
	share := left / time.Duration(addrsLeft)
	if share < floor {
		share = min(floor, left)
	}
	return now.Add(share)
}
