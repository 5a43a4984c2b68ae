package anchor

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcutil/v2"
)

// SatPerVByte is a fee rate in satoshis per virtual byte (vB: a quarter of a weight unit).
type SatPerVByte int64

// Fee returns the fee at rate r for a transaction of vsize virtual bytes.
func (r SatPerVByte) Fee(vsize int64) btcutil.Amount { return btcutil.Amount(int64(r) * vsize) }

// String formats r as "N sat/vB".
func (r SatPerVByte) String() string { return fmt.Sprintf("%d sat/vB", int64(r)) }

// RateFromBTCPerKvB converts a node's fee estimate in BTC per 1000 virtual bytes
// (what estimatesmartfee and estimatefee answer) into SatPerVByte, rounding up.
// A non-positive or non-finite estimate means "no estimate" and gives 0.
func RateFromBTCPerKvB(btcPerKvB float64) SatPerVByte {
	if !(btcPerKvB > 0) || math.IsInf(btcPerKvB, 0) {
		return 0
	}
	satPerKvB := math.Round(btcPerKvB * btcutil.SatoshiPerBitcoin) // exact in satoshis
	rate := math.Ceil(satPerKvB / 1000)
	if rate > math.MaxInt32 {
		return math.MaxInt32
	}
	return SatPerVByte(rate)
}

// FeePolicy decides what an anchoring transaction pays. It is a pure value: every
// method depends only on its arguments.
type FeePolicy struct {
	// Floor is the lowest rate ever paid; it must be at least Relay. Nodes often have no
	// estimate (an empty regtest chain answers 0 or an error).
	Floor SatPerVByte
	// Cap is the highest rate ever paid; a bump that would need more is refused.
	Cap SatPerVByte
	// Relay is the nodes' minimum relay fee rate, which is also the increment a
	// replacement must add for its own size (BIP 125 rule 4). 1 sat/vB on btcd and bitcoind.
	Relay SatPerVByte
}

// Validate reports whether the policy makes sense.
func (p FeePolicy) Validate() error {
	switch {
	case p.Relay < 1:
		return fmt.Errorf("anchor: relay fee rate %v is below 1 sat/vB", p.Relay)
	case p.Floor < p.Relay:
		return fmt.Errorf("anchor: fee floor %v is below the relay fee rate %v", p.Floor, p.Relay)
	case p.Cap < p.Floor:
		return fmt.Errorf("anchor: fee cap %v is below the fee floor %v", p.Cap, p.Floor)
	}
	return nil
}

// Rate returns the rate to pay given a node's estimate (0 when it has none): the
// estimate clamped to [Floor, Cap].
func (p FeePolicy) Rate(estimate SatPerVByte) SatPerVByte {
	return min(max(estimate, p.Floor), p.Cap)
}

// BumpFee returns the absolute fee of a replacement of vsize virtual bytes for a
// transaction that paid prevFee for prevVSize virtual bytes, at the target rate
// (normally p.Rate of a fresh estimate). The result is the largest of
//
//   - rate × vsize,
//   - prevFee + Relay × vsize (BIP 125 rule 4: the replacement pays for its own relay),
//   - the smallest fee whose rate over vsize exceeds prevFee/prevVSize (rule 6).
//
// vsize should be an upper bound of the replacement's size (see anchorVSize), so that
// its actual rate is no lower than computed. BumpFee returns an error wrapping
// ErrFeeCap if the result would pay more than Cap × vsize.
func (p FeePolicy) BumpFee(prevFee btcutil.Amount, prevVSize, vsize int64, rate SatPerVByte) (btcutil.Amount, error) {
	if prevVSize <= 0 || vsize <= 0 {
		return 0, fmt.Errorf("anchor: bump fee: sizes must be positive, got %d and %d", prevVSize, vsize)
	}
	fee := max(rate.Fee(vsize), prevFee+p.Relay.Fee(vsize))
	// Strictly higher rate: fee/vsize > prevFee/prevVSize.
	if minFee := btcutil.Amount(int64(prevFee)*vsize/prevVSize + 1); fee < minFee {
		fee = minFee
	}
	if limit := p.Cap.Fee(vsize); fee > limit {
		return 0, fmt.Errorf("%w: a replacement of %d vB needs %d sat, more than %v allows (%d sat)",
			ErrFeeCap, vsize, int64(fee), p.Cap, int64(limit))
	}
	return fee, nil
}
