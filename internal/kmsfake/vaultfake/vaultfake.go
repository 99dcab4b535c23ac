// Package vaultfake is a small HTTP imitation of Vault's Transit engine for
// fault-injection tests and offline examples of the vault backend.
//
// It serves, under /v1/MOUNT/: GET keys/NAME, POST encrypt/NAME,
// decrypt/NAME, rewrap/NAME and keys/NAME/rotate, with Vault's JSON
// shapes ("data" envelope, {"errors": [...]}), the X-Vault-Token check,
// vault:vN: ciphertexts (AES-256-GCM per version), associated_data for
// non-derived keys and context for derived ones (rewrap ignores
// associated_data, as Vault does), and min_decryption_version.
// [Server.Inject] queues faults for the next requests.
//
// Two modes imitate servers the vault backend must refuse:
// [Server.IgnoreAssociatedData] drops associated_data silently (as a proxy
// that filters parameters would), and [Server.SetWarnings] attaches
// warnings to successful responses (as Vault does when it ignored part of
// a request).
//
// It is not Vault: the conformance suite runs against Vault's own Transit
// engine in the nested module internal/vaulttest. The key material is
// random per Server and must never protect real data.
package vaultfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is the token the Server accepts. Test material only.
const Token = "vaultfake-test-token"

// KeyOptions describes a key to create.
type KeyOptions struct {
	Type    string // default "aes256-gcm96"
	Derived bool
}

// Server is a fake Vault. Create it with [Start].
type Server struct {
	Faults // Inject, SetAlways, Calls

	hs *httptest.Server

	mu       sync.Mutex
	keys     map[string]*key // "mount/name"
	ignoreAD bool
	warnings func(op string, body map[string]string) []string
}

type key struct {
	typ        string
	derived    bool
	versions   [][]byte // version i+1
	created    []time.Time
	minDecrypt int
}

// Start starts a Server on 127.0.0.1.
func Start() *Server {
	s := &Server{keys: map[string]*key{}}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.Release()
	s.hs.Close()
}

// URL returns the server's address, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.hs.URL }

// CreateKey creates the key mount/name with one version.
func (s *Server) CreateKey(mount, name string, o KeyOptions) {
	if o.Type == "" {
		o.Type = "aes256-gcm96"
	}
	k := &key{typ: o.Type, derived: o.Derived, minDecrypt: 1}
	k.rotate()
	s.mu.Lock()
	s.keys[mount+"/"+name] = k
	s.mu.Unlock()
}

// SetMinDecryptionVersion sets the key's min_decryption_version.
func (s *Server) SetMinDecryptionVersion(mount, name string, v int) {
	s.mu.Lock()
	s.keys[mount+"/"+name].minDecrypt = v
	s.mu.Unlock()
}

// IgnoreAssociatedData makes encrypt and decrypt ignore associated_data,
// and the context of derived keys (every key is then derived from an
// empty context), without any warning or error (on); or honour them again
// (off).
func (s *Server) IgnoreAssociatedData(on bool) {
	s.mu.Lock()
	s.ignoreAD = on
	s.mu.Unlock()
}

// SetWarnings makes every successful response carry the warnings f
// returns for its operation ("keys", "rotate", "encrypt", "decrypt",
// "rewrap") and request body (string fields only); nil f stops. f runs
// with the Server locked: it must not call the Server.
func (s *Server) SetWarnings(f func(op string, body map[string]string) []string) {
	s.mu.Lock()
	s.warnings = f
	s.mu.Unlock()
}

func (k *key) rotate() {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k.versions = append(k.versions, b)
	k.created = append(k.created, time.Now())
}

func (k *key) aead(version int, context []byte) cipher.AEAD {
	kb := k.versions[version-1]
	if k.derived {
		m := hmac.New(sha256.New, kb)
		m.Write(context)
		kb = m.Sum(nil)
	}
	b, _ := aes.NewCipher(kb)
	a, _ := cipher.NewGCM(b)
	return a
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Intercept(w, r) {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Vault-Token")), []byte(Token)) != 1 {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound, "no handler for route")
		return
	}
	var body map[string]string
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if len(raw) > 0 && string(raw) != "null" {
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				writeErrors(w, http.StatusBadRequest, "failed to parse JSON input")
				return
			}
			body = map[string]string{}
			for k, v := range generic {
				if sv, ok := v.(string); ok {
					body[k] = sv
				}
			}
		}
	}
	// MOUNT/op/NAME or MOUNT/keys/NAME/rotate; the mount is everything
	// before the last operation segment.
	segs := strings.Split(path, "/")
	if len(segs) < 3 {
		writeErrors(w, http.StatusNotFound, "no handler for route")
		return
	}
	var mount, op, name string
	if segs[len(segs)-1] == "rotate" && len(segs) >= 4 && segs[len(segs)-3] == "keys" {
		mount, op, name = strings.Join(segs[:len(segs)-3], "/"), "rotate", segs[len(segs)-2]
	} else {
		mount, op, name = strings.Join(segs[:len(segs)-2], "/"), segs[len(segs)-2], segs[len(segs)-1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[mount+"/"+name]
	if k == nil {
		if op == "keys" && r.Method == http.MethodGet {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		writeErrors(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	switch {
	case op == "keys" && r.Method == http.MethodGet:
		keys := map[string]any{}
		for i, c := range k.created {
			keys[strconv.Itoa(i+1)] = c.Unix()
		}
		s.ok(w, op, body, map[string]any{
			"type": k.typ, "derived": k.derived, "convergent_encryption": false,
			"latest_version": len(k.versions), "min_decryption_version": k.minDecrypt,
			"min_available_version": 0, "supports_encryption": true, "keys": keys,
		})
	case op == "rotate":
		k.rotate()
		s.ok(w, op, body, map[string]any{"latest_version": len(k.versions)})
	case op == "encrypt":
		pt, err := base64.StdEncoding.DecodeString(body["plaintext"])
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		ad, ctx, msg := k.inputs(body, !s.ignoreAD, !s.ignoreAD)
		if msg != "" {
			writeErrors(w, http.StatusBadRequest, msg)
			return
		}
		ct := k.seal(len(k.versions), ctx, pt, ad)
		s.ok(w, op, body, map[string]any{"ciphertext": ct, "key_version": len(k.versions)})
	case op == "decrypt" || op == "rewrap":
		ad, ctx, msg := k.inputs(body, op == "decrypt" && !s.ignoreAD, !s.ignoreAD)
		if msg != "" {
			writeErrors(w, http.StatusBadRequest, msg)
			return
		}
		pt, status, msg := k.open(body["ciphertext"], ctx, ad)
		if msg != "" {
			writeErrors(w, status, msg)
			return
		}
		if op == "decrypt" {
			s.ok(w, op, body, map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)})
			return
		}
		ct := k.seal(len(k.versions), ctx, pt, nil)
		s.ok(w, op, body, map[string]any{"ciphertext": ct, "key_version": len(k.versions)})
	default:
		writeErrors(w, http.StatusNotFound, "unsupported path")
	}
}

// ok writes a successful response, {"data": ..., "warnings": ...}, as
// Vault does. s.mu is held.
func (s *Server) ok(w http.ResponseWriter, op string, body map[string]string, data map[string]any) {
	var warnings []string
	if s.warnings != nil {
		warnings = s.warnings(op, body)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "warnings": warnings})
}

// inputs decodes associated_data (when useAD) and context (when useCtx);
// rewrap ignores associated_data, like Vault's.
func (k *key) inputs(body map[string]string, useAD, useCtx bool) (ad, ctx []byte, msg string) {
	var err error
	if useAD && body["associated_data"] != "" && !k.derived {
		if ad, err = base64.StdEncoding.DecodeString(body["associated_data"]); err != nil {
			return nil, nil, "failed to base64-decode associated_data"
		}
	}
	if k.derived && !useCtx {
		return nil, nil, "" // ignoring the binding: an empty context
	}
	if k.derived {
		if body["context"] == "" {
			return nil, nil, "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
		}
		if ctx, err = base64.StdEncoding.DecodeString(body["context"]); err != nil {
			return nil, nil, "failed to base64-decode context"
		}
	}
	return ad, ctx, ""
}

func (k *key) seal(version int, ctx, pt, ad []byte) string {
	a := k.aead(version, ctx)
	nonce := make([]byte, a.NonceSize())
	_, _ = rand.Read(nonce)
	return "vault:v" + strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(a.Seal(nonce, nonce, pt, ad))
}

func (k *key) open(ct string, ctx, ad []byte) ([]byte, int, string) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	num, body, ok2 := strings.Cut(rest, ":")
	v, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil || v < 1 || v > len(k.versions) {
		return nil, http.StatusBadRequest, "invalid ciphertext: no prefix"
	}
	if v < k.minDecrypt {
		return nil, http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)"
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	a := k.aead(v, ctx)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return nil, http.StatusBadRequest, "invalid ciphertext: could not decode"
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], ad)
	if err != nil {
		return nil, http.StatusBadRequest, "cipher: message authentication failed"
	}
	return pt, 0, ""
}
