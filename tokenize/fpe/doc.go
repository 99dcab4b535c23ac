// Package fpe is format-preserving encryption: the FF1 and FF3-1 modes of
// NIST SP 800-38G Rev. 1 over AES, with alphabets that map symbols to
// numerals. Most code wants [github.com/fieldguard/pii/tokenize] instead,
// which applies these ciphers to card numbers, phone numbers, IBANs and
// e-mail addresses with the right rules (kept digits, check digits,
// per-field tweaks) and to tagged structs; use fpe directly to
// interoperate with another FF1 or FF3-1 implementation.
//
// [FF1] ([NewFF1]) takes any radix 2..65536 and any tweak length. [FF31]
// ([NewFF31]) is FF3-1, for interoperability only (HashiCorp Vault's
// Transform engine uses it): Beyne (CRYPTO 2021) gave practical attacks on
// FF3-1 over small domains, and NIST's 2025 second draft of SP 800-38G
// Rev. 1 drops the FF3 family. Prefer FF1.
//
// An [Alphabet] maps symbols to numerals and back, for strings over any
// set of runes.
//
// # Domain rules
//
// Both ciphers enforce the Rev. 1 domain rules with no opt-out:
// radix^len ≥ 1,000,000 (for radix 10, at least 6 numerals), the maximum
// lengths (FF1: 2^32-1; FF3-1: 2·floor(log_radix(2^96)), 56 for radix 10),
// FF3-1 tweaks of exactly 7 bytes. A *FF1 and a
// *FF31 are immutable and safe for concurrent use: no cipher state is
// shared between calls.
//
// # Performance
//
// When radix^ceil(n/2) fits in 64 bits (inputs of up to 38 decimal digits,
// 126 binary ones), the Feistel halves are machine integers for the whole
// computation, the per-length constants are precomputed at construction,
// the CBC-MAC is computed by hand over the shared AES block cipher so each
// round costs one AES block, and the only allocation is the result. Longer
// inputs fall back to math/big. The package's benchmarks compare FF1 and
// FF3-1 with one AES block in the same run; BENCHMARKS.md at the module
// root has the ratios.
//
// # Security model
//
// FPE is deterministic: equal inputs under one key and tweak give equal
// outputs. Small domains are weak even above the NIST floor. The standard
// library's AES is constant-time only with hardware support (AES-NI and
// equivalents). Go cannot promise that key bytes are erased from memory.
//
// # Errors
//
// Errors of the input (a length, radix, numeral or symbol the cipher does
// not take) wrap [ErrDomain]; test with errors.Is. A key of the wrong
// size, a tweak of the wrong length or an invalid alphabet definition is a
// mistake of the program, reported with a plain error. Messages start with
// "fpe:" and never contain the input, the key or the tweak; an
// [ErrDomain] error states the lengths the cipher takes.
package fpe
