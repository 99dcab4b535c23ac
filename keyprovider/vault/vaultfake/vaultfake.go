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
	"sync/atomic"
	"time"
)

// Token is the token the Server accepts. Test material only.
const Token = "vaultfake-test-token"

// Fault is a failure the Server injects into one request.
type Fault int

const (
	// Sealed answers 503 "Vault is sealed".
	Sealed Fault = iota + 1
	// Throttle answers 429.
	Throttle
	// Internal answers 500.
	Internal
	// Hang blocks until the client gives up.
	Hang
	// Forbidden answers 403 "permission denied".
	Forbidden
)

// KeyOptions describes a key to create.
type KeyOptions struct {
	Type    string // default "aes256-gcm96"
	Derived bool
}

// Server is a fake Vault. Create it with [Start].
type Server struct {
	hs        *httptest.Server
	calls     atomic.Int64
	done      chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	keys   map[string]*key // "mount/name"
	faults []Fault
	always Fault
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
	s := &Server{keys: map[string]*key{}, done: make(chan struct{})}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.hs.Close()
}

// URL returns the server's address, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.hs.URL }

// Calls returns the number of requests received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Inject queues faults, one per following request.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, faults...)
	s.mu.Unlock()
}

// SetAlways makes every request fail with f until SetAlways(0).
func (s *Server) SetAlways(f Fault) {
	s.mu.Lock()
	s.always = f
	s.mu.Unlock()
}

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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []string{msg}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	f := s.always
	if f == 0 && len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case Sealed:
		writeErr(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	case Throttle:
		writeErr(w, http.StatusTooManyRequests, "request path \"transit/encrypt\": rate limit quota exceeded")
		return
	case Internal:
		writeErr(w, http.StatusInternalServerError, "internal error")
		return
	case Forbidden:
		writeErr(w, http.StatusForbidden, "permission denied")
		return
	case Hang:
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Vault-Token")), []byte(Token)) != 1 {
		writeErr(w, http.StatusForbidden, "permission denied")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErr(w, http.StatusNotFound, "no handler for route")
		return
	}
	var body map[string]string
	if r.Method == http.MethodPut || r.Method == http.MethodPost {
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if len(raw) > 0 && string(raw) != "null" {
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				writeErr(w, http.StatusBadRequest, "failed to parse JSON input")
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
		writeErr(w, http.StatusNotFound, "no handler for route")
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
		writeErr(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	switch {
	case op == "keys" && r.Method == http.MethodGet:
		keys := map[string]any{}
		for i, c := range k.created {
			keys[strconv.Itoa(i+1)] = c.Unix()
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"type": k.typ, "derived": k.derived, "convergent_encryption": false,
			"latest_version": len(k.versions), "min_decryption_version": k.minDecrypt,
			"min_available_version": 0, "supports_encryption": true, "keys": keys,
		}})
	case op == "rotate":
		k.rotate()
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"latest_version": len(k.versions)}})
	case op == "encrypt":
		pt, err := base64.StdEncoding.DecodeString(body["plaintext"])
		if err != nil {
			writeErr(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		ad, ctx, msg := k.inputs(body, true)
		if msg != "" {
			writeErr(w, http.StatusBadRequest, msg)
			return
		}
		ct := k.seal(len(k.versions), ctx, pt, ad)
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"ciphertext": ct, "key_version": len(k.versions)}})
	case op == "decrypt" || op == "rewrap":
		ad, ctx, msg := k.inputs(body, op == "decrypt")
		if msg != "" {
			writeErr(w, http.StatusBadRequest, msg)
			return
		}
		pt, status, msg := k.open(body["ciphertext"], ctx, ad)
		if msg != "" {
			writeErr(w, status, msg)
			return
		}
		if op == "decrypt" {
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}})
			return
		}
		ct := k.seal(len(k.versions), ctx, pt, nil)
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"ciphertext": ct, "key_version": len(k.versions)}})
	default:
		writeErr(w, http.StatusNotFound, "unsupported path")
	}
}

// inputs decodes associated_data and context; rewrap ignores
// associated_data, like Vault's.
func (k *key) inputs(body map[string]string, useAD bool) (ad, ctx []byte, msg string) {
	var err error
	if useAD && body["associated_data"] != "" && !k.derived {
		if ad, err = base64.StdEncoding.DecodeString(body["associated_data"]); err != nil {
			return nil, nil, "failed to base64-decode associated_data"
		}
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
