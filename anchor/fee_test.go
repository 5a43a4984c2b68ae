package anchor

import (
	"errors"
	"math"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
)

func TestRateFromBTCPerKvB(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want SatPerVByte
	}{
		{"no estimate (btcd -1)", -1, 0},
		{"zero (btcd on a young chain)", 0, 0},
		{"NaN", math.NaN(), 0},
		{"infinity", math.Inf(1), 0},
		{"1 sat/vB exactly", 0.00001, 1},
		{"just above 1 rounds up", 0.00001001, 2},
		{"below 1 rounds up to 1", 0.000001, 1},
		{"float noise does not round up", 0.00012, 12},
		{"25 sat/vB", 0.00025, 25},
		{"absurd estimate is bounded", 1e9, math.MaxInt32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RateFromBTCPerKvB(tt.in); got != tt.want {
				t.Errorf("RateFromBTCPerKvB(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFeePolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    FeePolicy
		ok   bool
	}{
		{"sane", FeePolicy{Floor: 2, Cap: 50, Relay: 1}, true},
		{"floor equals cap", FeePolicy{Floor: 5, Cap: 5, Relay: 1}, true},
		{"zero relay", FeePolicy{Floor: 1, Cap: 50, Relay: 0}, false},
		{"floor below relay", FeePolicy{Floor: 1, Cap: 50, Relay: 2}, false},
		{"cap below floor", FeePolicy{Floor: 10, Cap: 5, Relay: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFeePolicyRate(t *testing.T) {
	p := FeePolicy{Floor: 2, Cap: 40, Relay: 1}
	tests := []struct {
		name     string
		estimate SatPerVByte
		want     SatPerVByte
	}{
		{"no estimate takes the floor", 0, 2},
		{"below the floor", 1, 2},
		{"inside", 17, 17},
		{"at the cap", 40, 40},
		{"above the cap", 500, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Rate(tt.estimate); got != tt.want {
				t.Errorf("Rate(%v) = %v, want %v", tt.estimate, got, tt.want)
			}
		})
	}
}

func TestFeePolicyBumpFee(t *testing.T) {
	errAny := errors.New("any error")
	tests := []struct {
		name      string
		cap       SatPerVByte
		prevFee   btcutil.Amount
		prevVSize int64
		vsize     int64
		rate      SatPerVByte
		want      btcutil.Amount
		wantErr   error
	}{
		{"relay increment dominates", 100, 150, 150, 153, 1, 303, nil},
		{"new rate dominates", 100, 150, 150, 153, 10, 1530, nil},
		{"rate equal to the increment", 100, 1500, 150, 150, 11, 1650, nil},
		// 30000 sat over 150 vB is 200 sat/vB; at 151 vB the rate must exceed it:
		// 30000*151/150+1 = 30201, more than 30000+151.
		{"strictly higher rate when the replacement is larger", 1000, 30000, 150, 151, 1, 30201, nil},
		{"cap reached by the increment", 100, 15000, 150, 150, 1, 0, ErrFeeCap},
		{"target rate above the cap", 100, 150, 150, 150, 101, 0, ErrFeeCap},
		{"zero previous fee", 100, 0, 150, 150, 1, 150, nil},
		{"zero previous size", 100, 150, 0, 150, 1, 0, errAny},
		{"zero size", 100, 150, 150, 0, 1, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := FeePolicy{Floor: 1, Cap: tt.cap, Relay: 1}
			got, err := p.BumpFee(tt.prevFee, tt.prevVSize, tt.vsize, tt.rate)
			switch {
			case tt.wantErr == errAny:
				if err == nil {
					t.Fatalf("BumpFee() = %d, want an error", got)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("BumpFee() = %d, %v; want %v", got, err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("BumpFee() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("BumpFee() = %d, want %d", got, tt.want)
			}
			if got < tt.prevFee+p.Relay.Fee(tt.vsize) {
				t.Errorf("fee %d does not pay the relay increment over %d", got, tt.prevFee)
			}
			if int64(got)*tt.prevVSize <= int64(tt.prevFee)*tt.vsize {
				t.Errorf("rate %d/%d is not above %d/%d", got, tt.vsize, tt.prevFee, tt.prevVSize)
			}
			if got < tt.rate.Fee(tt.vsize) {
				t.Errorf("fee %d is below the target rate %v", got, tt.rate)
			}
		})
	}
}
