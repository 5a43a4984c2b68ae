package webhook

import (
	"strings"
	"testing"
)

// TestCallbackAddresses holds callback hosts to the special-purpose registries: every
// range refused, IPv4 embedded in IPv6 included, and public addresses accepted.
func TestCallbackAddresses(t *testing.T) {
	tests := []struct {
		host   string
		public bool
		models string
	}{
		{"0.0.0.0", false, "this network"},
		{"0.1.2.3", false, "this network"},
		{"10.0.0.1", false, "private"},
		{"100.64.0.1", false, "shared address space"},
		{"100.127.255.254", false, "shared address space, its end"},
		{"127.0.0.1", false, "loopback"},
		{"127.255.255.254", false, "loopback"},
		{"169.254.169.254", false, "link local: cloud metadata"},
		{"172.16.0.1", false, "private"},
		{"172.31.255.255", false, "private"},
		{"192.0.0.1", false, "IETF protocol assignments"},
		{"192.0.0.170", false, "NAT64 discovery"},
		{"192.0.2.1", false, "TEST-NET-1"},
		{"192.31.196.1", false, "AS112-v4"},
		{"192.52.193.1", false, "AMT"},
		{"192.88.99.1", false, "6to4 relay anycast"},
		{"192.168.1.1", false, "private"},
		{"192.175.48.1", false, "AS112 direct delegation"},
		{"198.18.0.1", false, "benchmarking"},
		{"198.19.255.255", false, "benchmarking, its end"},
		{"198.51.100.1", false, "TEST-NET-2"},
		{"203.0.113.1", false, "TEST-NET-3"},
		{"224.0.0.1", false, "multicast"},
		{"239.255.255.250", false, "multicast"},
		{"240.0.0.1", false, "reserved"},
		{"255.255.255.255", false, "limited broadcast"},

		{"[::]", false, "unspecified"},
		{"[::1]", false, "loopback"},
		{"[::7f00:1]", false, "IPv4-compatible 127.0.0.1"},
		{"[::808:808]", false, "IPv4-compatible, even of a public address"},
		{"[::ffff:127.0.0.1]", false, "IPv4-mapped loopback"},
		{"[::ffff:10.0.0.1]", false, "IPv4-mapped private"},
		{"[::ffff:169.254.169.254]", false, "IPv4-mapped link local"},
		{"[64:ff9b::a00:1]", false, "NAT64 of 10.0.0.1"},
		{"[64:ff9b::7f00:1]", false, "NAT64 of 127.0.0.1"},
		{"[64:ff9b::a9fe:a9fe]", false, "NAT64 of 169.254.169.254"},
		{"[64:ff9b::c612:1]", false, "NAT64 of 198.18.0.1"},
		{"[64:ff9b:1::a00:1]", false, "local-use NAT64"},
		{"[64:ff9b:1::808:808]", false, "local-use NAT64, even of a public address"},
		{"[100::1]", false, "discard only"},
		{"[2001::1]", false, "Teredo"},
		{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]", false, "Teredo, with a client address"},
		{"[2001:2::1]", false, "benchmarking"},
		{"[2001:20::1]", false, "ORCHIDv2"},
		{"[2001:db8::1]", false, "documentation"},
		{"[2002:7f00:1::1]", false, "6to4 of 127.0.0.1"},
		{"[2002:a00:1::1]", false, "6to4 of 10.0.0.1"},
		{"[2002:808:808::1]", false, "6to4, even of a public address"},
		{"[2620:4f:8000::1]", false, "AS112 direct delegation"},
		{"[3fff::1]", false, "documentation"},
		{"[5f00::1]", false, "SRv6 SIDs"},
		{"[fc00::1]", false, "unique local"},
		{"[fd12:3456::1]", false, "unique local"},
		{"[fe80::1]", false, "link local"},
		{"[fe80::1%25eth0]", false, "link local, with a zone"},
		{"[fec0::1]", false, "site local"},
		{"[ff02::1]", false, "multicast"},
		{"[4000::1]", false, "outside 2000::/3"},

		{"8.8.8.8", true, "public IPv4"},
		{"1.1.1.1", true, "public IPv4"},
		{"100.63.255.255", true, "just below the shared address space"},
		{"198.20.0.1", true, "just above benchmarking"},
		{"223.255.255.254", true, "just below multicast"},
		{"[::ffff:8.8.8.8]", true, "IPv4-mapped public: the IPv4 address it is"},
		{"[64:ff9b::808:808]", true, "NAT64 of 8.8.8.8: how an IPv6-only host reaches it"},
		{"[2606:4700:4700::1111]", true, "public IPv6"},
		{"[2001:4860:4860::8888]", true, "public IPv6 just past 2001::/23"},
		{"example.com", true, "a name: its addresses are checked when dialled"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := CheckURL("https://"+tt.host+"/hook", false)
			if (err == nil) != tt.public {
				t.Errorf("%s (%s): error %v, want public %v", tt.host, tt.models, err, tt.public)
			}
			if err := CheckURL("https://"+tt.host+"/hook", true); err != nil {
				t.Errorf("%s, private addresses allowed: %v", tt.host, err)
			}
		})
	}
}

// TestCallbackAddressesDialled checks the addresses a callback's host name resolves to,
// as they are dialled: the same ranges are refused.
func TestCallbackAddressesDialled(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:9", "[::1]:9", "[64:ff9b::7f00:1]:9", "[2002:7f00:1::1]:9",
		"[::ffff:127.0.0.1]:9", "198.18.0.1:9", "[fe80::1%eth0]:9", "[2001::1]:443"} {
		if err := dialPublicOnly("tcp", addr, nil); err == nil || !strings.Contains(err.Error(), "not public") {
			t.Errorf("%s: %v, want it refused as not public", addr, err)
		}
	}
	for _, addr := range []string{"8.8.8.8:443", "[2606:4700:4700::1111]:443", "[64:ff9b::808:808]:443"} {
		if err := dialPublicOnly("tcp", addr, nil); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestCallbackPort refuses ports outside 1–65535, which url.Parse lets through.
func TestCallbackPort(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://example.com:443/hook", true},
		{"https://example.com:1/hook", true},
		{"https://example.com:65535/hook", true},
		{"https://example.com/hook", true},
		{"https://example.com:0/hook", false},
		{"https://example.com:65536/hook", false},
		{"https://example.com:99999/hook", false},
		{"https://example.com:184467440737095516160/hook", false},
	} {
		if err := CheckURL(tt.url, false); (err == nil) != tt.ok {
			t.Errorf("%s: %v, want accepted %v", tt.url, err, tt.ok)
		}
	}
}
