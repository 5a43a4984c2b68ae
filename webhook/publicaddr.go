package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// Callbacks are dialled only at public addresses (unless Config.AllowPrivate), so
// that a callback cannot reach the service's own network. What is public is decided here,
// from the IANA IPv4 and IPv6 Special-Purpose Address Registries: every range they list is
// refused, whether or not the registry calls it globally reachable (none is a place for a
// webhook receiver), and so is every address outside the ranges of global unicast
// (multicast, the reserved 240.0.0.0/4, IPv6 outside 2000::/3).
//
// Addresses that embed an IPv4 address are judged as follows. An IPv4-mapped address
// (::ffff:a.b.c.d) is that IPv4 address, which is what is dialled. The well-known NAT64
// prefix 64:ff9b::/96 is judged by its IPv4 address: RFC 6052 forbids it for non-global
// ones, but a translator in the service's network would reach them, and an IPv6-only host
// reaches public IPv4 receivers through it. Every other form (IPv4-compatible ::a.b.c.d,
// local-use NAT64 64:ff9b:1::/48, 6to4 2002::/16, Teredo 2001::/32) is refused, whatever
// address it embeds: each is reached through a relay or translator that may stand inside.

// specialPurpose lists the ranges of the registries (and multicast), IPv4 then IPv6.
var specialPurpose = prefixes(
	// IPv4 Special-Purpose Address Registry.
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // private use
	"100.64.0.0/10",   // shared address space (carrier-grade NAT)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link local (cloud metadata services)
	"172.16.0.0/12",   // private use
	"192.0.0.0/24",    // IETF protocol assignments (DS-Lite, NAT64 discovery, PCP, TURN…)
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.31.196.0/24", // AS112-v4
	"192.52.193.0/24", // AMT
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private use
	"192.175.48.0/24", // direct delegation AS112 service
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and the limited broadcast address 255.255.255.255

	// IPv6 Special-Purpose Address Registry.
	"::/128",            // unspecified
	"::1/128",           // loopback
	"::/96",             // IPv4-compatible (deprecated)
	"::ffff:0:0/96",     // IPv4-mapped: judged by its IPv4 address before this list
	"64:ff9b::/96",      // NAT64, well-known prefix: judged by its IPv4 address before this list
	"64:ff9b:1::/48",    // NAT64, local use
	"100::/64",          // discard only
	"100:0:0:1::/64",    // dummy prefix
	"2001::/23",         // IETF protocol assignments: Teredo 2001::/32, benchmarking, AMT, AS112, ORCHID…
	"2001:db8::/32",     // documentation
	"2002::/16",         // 6to4
	"2620:4f:8000::/48", // direct delegation AS112 service
	"3fff::/20",         // documentation
	"5f00::/16",         // segment routing (SRv6) SIDs
	"fc00::/7",          // unique local
	"fe80::/10",         // link local
	"fec0::/10",         // site local (deprecated)
	"ff00::/8",          // multicast
)

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// publicAddr reports whether ip is a public unicast address: one a callback may be dialled at.
func publicAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		v6 := ip.As16()
		return publicAddr(netip.AddrFrom4([4]byte(v6[12:])))
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return false
	}
	for _, p := range specialPurpose {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL returns an error, in words for the client, unless u is an acceptable
// callback: an absolute http or https URL of at most 2048 bytes without credentials or
// fragment, with a port, if any, from 1 to 65535, and, unless allowPrivate, whose host is
// neither localhost nor an address of a special-purpose range (loopback, private, link
// local, NAT64, 6to4, …; see publicAddr). (Whatever a host name resolves to, only public
// addresses are dialled unless allowPrivate.)
func CheckURL(u string, allowPrivate bool) error {
	if len(u) > maxCallbackLen {
		return fmt.Errorf("the callback URL is longer than %d bytes", maxCallbackLen)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Opaque != "" {
		return fmt.Errorf("the callback %q is not an absolute http or https URL", u)
	}
	if p.User != nil {
		return errors.New("the callback URL must not carry credentials")
	}
	if p.Fragment != "" || strings.HasSuffix(u, "#") {
		return errors.New("the callback URL must not have a fragment")
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("the callback port %s is not from 1 to 65535", port)
		}
	}
	if !allowPrivate {
		host := p.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil && !publicAddr(ip) {
			return fmt.Errorf("the callback host %s is not a public address", host)
		}
		if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("the callback host %s is not a public address", host)
		}
	}
	return nil
}

// dialPublicOnly refuses connections to addresses that are not public, after the host
// name is resolved: a callback cannot reach the service's own network.
func dialPublicOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !publicAddr(ip) {
		return fmt.Errorf("the callback address %s is not public", ip)
	}
	return nil
}
