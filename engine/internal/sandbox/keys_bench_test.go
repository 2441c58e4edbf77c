package sandbox

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
)

// BenchmarkKeySealOpen measures calls of the keyvault guest that make a
// key and seal and open 64 bytes under it 1 or 100 times: with the host's
// keys (key_generate, key_seal, key_open) and with x/crypto's
// XChaCha20-Poly1305 compiled into the guest, the way the built-in
// secretstore does its crypto today; "none" is the call alone.
func BenchmarkKeySealOpen(b *testing.B) {
	m, _ := keyVault(b, keyHost(b, nil), "Bench", nil)
	for _, where := range []string{"none/1", "host/1", "wasm/1", "host/100", "wasm/100"} {
		b.Run(where, func(b *testing.B) {
			arg := []byte("cmd sealopen " + strings.Replace(where, "/", " ", 1))
			for b.Loop() {
				out, err := m.Call(context.Background(), abi.OpGet, arg)
				if err != nil || len(out) == 0 || out[len(out)-2] != 'o' {
					b.Fatalf("%q %v", out, err)
				}
			}
		})
	}
}

// BenchmarkSealBox compares the host's XChaCha20-Poly1305 (built from
// x/crypto's chacha20 and poly1305 so that its key state can be wiped)
// with x/crypto's own, on 64 bytes and on 64 KiB.
func BenchmarkSealBox(b *testing.B) {
	key, nonce := make([]byte, 32), make([]byte, 24)
	rand.Read(key)
	for _, n := range []int{64, 64 << 10} {
		plain, ad := make([]byte, n), []byte("ad")
		b.Run("host/"+size(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			buf := make([]byte, 0, n+abi.KeyOverhead)
			for b.Loop() {
				sealBox(buf[:0], key, nonce, plain, ad)
			}
		})
		b.Run("x-crypto/"+size(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			buf := make([]byte, 0, n+abi.KeyOverhead)
			for b.Loop() {
				aead, _ := chacha20poly1305.NewX(key)
				aead.Seal(buf[:0], nonce, plain, ad)
			}
		})
	}
}

func size(n int) string {
	if n >= 1<<10 {
		return string(rune('0'+n>>10/10)) + string(rune('0'+n>>10%10)) + "KiB"
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10)) + "B"
}
