package anchor_test

import (
	"fmt"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/merkle"
)

func ExampleFeePolicy() {
	p := anchor.FeePolicy{Floor: 2, Cap: 50, Relay: 1}

	// The node's estimate (BTC per 1000 vB) is clamped to [Floor, Cap].
	fmt.Println(p.Rate(anchor.RateFromBTCPerKvB(0)))       // no estimate
	fmt.Println(p.Rate(anchor.RateFromBTCPerKvB(0.00012))) // 12 sat/vB
	fmt.Println(p.Rate(anchor.RateFromBTCPerKvB(0.01)))    // 1000 sat/vB

	// A replacement of a 160 vB transaction that paid 320 sat, wanting 2 sat/vB:
	// it must pay for its own relay on top of the old fee.
	fee, err := p.BumpFee(320, 160, 160, 2)
	fmt.Println(int64(fee), "sat", err)
	// Output:
	// 2 sat/vB
	// 12 sat/vB
	// 50 sat/vB
	// 480 sat <nil>
}

func ExamplePayload() {
	root, _ := merkle.ParseHash("8d85f8467240628a94819b26bee26e3a9b2804334c63482deacec8d64ab4e1e7")
	fmt.Printf("%x\n", anchor.Payload([]byte("ntry"), root))
	// Output:
	// 6e7472798d85f8467240628a94819b26bee26e3a9b2804334c63482deacec8d64ab4e1e7
}
