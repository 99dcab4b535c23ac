// Package awskmstest runs an in-process imitation of AWS KMS for tests and
// examples: an HTTP server on 127.0.0.1 speaking the KMS JSON 1.1 protocol
// (POST /, X-Amz-Target: TrentService.Encrypt or TrentService.Decrypt,
// Content-Type: application/x-amz-json-1.1), reached by the real SDK client
// through a custom endpoint with static credentials.
//
// It implements what the awskms backend relies on: symmetric keys addressed
// by key id, key ARN, alias name or alias ARN; a ciphertext blob that names
// its key; an authenticated encryption context; KeyId pinning on Decrypt
// (IncorrectKeyException); disabled and pending-deletion keys; and AWS-style
// errors ({"__type": …, "message": …} with the service's status codes).
// [Server.Inject] queues faults for the next calls.
//
// The key material is random per Server and lives only in memory; it is
// test material and must never protect real data.
package awskmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Region and Account are the ones the Server's key ARNs use.
const (
	Region  = "eu-west-1"
	Account = "111122223333"
)

// Fault is a failure the Server injects into one call.
type Fault int

const (
	// Unavailable answers 503 KMSInternalException.
	Unavailable Fault = iota + 1
	// Throttle answers 400 ThrottlingException.
	Throttle
	// Hang blocks until the client gives up.
	Hang
	// WrongKeyID answers with the ARN of another key.
	WrongKeyID
	// AccessDenied answers 400 AccessDeniedException.
	AccessDenied
	// Garbled answers 200 with a body that is not JSON.
	Garbled
)

// Server is an in-process AWS KMS. Create it with [Start].
type Server struct {
	hs        *httptest.Server
	calls     atomic.Int64
	done      chan struct{} // closed by Close, ends hanging calls
	closeOnce sync.Once

	mu      sync.Mutex
	keys    map[string]*key // by key id
	aliases map[string]string
	faults  []Fault
	always  Fault
}

type key struct {
	id    string
	aead  cipher.AEAD
	state string // "Enabled", "Disabled", "PendingDeletion"
}

// Start starts a Server on 127.0.0.1. Each alias names one new key,
// reachable as alias/NAME, its alias ARN, its key id or its key ARN.
func Start(aliases ...string) *Server {
	s := &Server{keys: map[string]*key{}, aliases: map[string]string{}, done: make(chan struct{})}
	for _, a := range aliases {
		s.CreateKey(a)
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.hs.Close()
}

// URL returns the endpoint, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.hs.URL }

// Config returns an aws.Config for the Server: its region, static test
// credentials, no SDK retries.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret-not-real", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// Client returns a KMS client pointed at the Server.
func (s *Server) Client() *kms.Client {
	return kms.NewFromConfig(s.Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(s.URL()) })
}

// Calls returns the number of requests received.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Inject queues faults, one per following call.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, faults...)
	s.mu.Unlock()
}

// SetAlways makes every call fail with f until SetAlways(0).
func (s *Server) SetAlways(f Fault) {
	s.mu.Lock()
	s.always = f
	s.mu.Unlock()
}

// CreateKey creates a key with the alias and returns its ARN.
func (s *Server) CreateKey(alias string) string {
	kb := make([]byte, 32)
	_, _ = rand.Read(kb)
	b, _ := aes.NewCipher(kb)
	a, _ := cipher.NewGCM(b)
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	h := hex.EncodeToString(idb)
	id := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &key{id: id, aead: a, state: "Enabled"}
	if alias != "" {
		s.aliases["alias/"+alias] = id
	}
	return KeyARN(id)
}

// KeyARN returns the ARN of key id.
func KeyARN(id string) string { return "arn:aws:kms:" + Region + ":" + Account + ":key/" + id }

// AliasARN returns the ARN of alias NAME.
func AliasARN(name string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":alias/" + name
}

// SetKeyState sets a key's state: "Enabled", "Disabled" or
// "PendingDeletion". ref is any form the API accepts.
func (s *Server) SetKeyState(ref, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.resolve(ref)
	if k == nil {
		return fmt.Errorf("awskmstest: no key %q", ref)
	}
	k.state = state
	return nil
}

// resolve finds a key by id, key ARN, alias or alias ARN. s.mu is held.
func (s *Server) resolve(ref string) *key {
	if rest, ok := strings.CutPrefix(ref, "arn:aws:kms:"+Region+":"+Account+":"); ok {
		ref = rest
	}
	if id, ok := strings.CutPrefix(ref, "key/"); ok {
		ref = id
	}
	if strings.HasPrefix(ref, "alias/") {
		ref = s.aliases[ref]
	}
	return s.keys[ref]
}

type apiError struct {
	status int
	typ    string
	msg    string
}

func writeError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
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
	case Unavailable:
		writeError(w, apiError{503, "KMSInternalException", "The service is unavailable."})
		return
	case Throttle:
		writeError(w, apiError{400, "ThrottlingException", "Rate exceeded"})
		return
	case AccessDenied:
		writeError(w, apiError{400, "AccessDeniedException", "User is not authorized to perform: kms:Encrypt"})
		return
	case Hang:
		// Read the body first: the server notices a client hanging up
		// only once the request body is consumed.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	case Garbled:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte("<html>proxy error</html>"))
		return
	}

	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, apiError{404, "UnknownOperationException", ""})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		writeError(w, apiError{400, "UnrecognizedClientException", "The security token included in the request is invalid."})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, apiError{400, "SerializationException", "bad content type"})
		return
	}
	var req struct {
		KeyId               string
		Plaintext           []byte
		CiphertextBlob      []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, apiError{400, "SerializationException", "malformed request body"})
		return
	}
	if req.EncryptionAlgorithm != "" && req.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		writeError(w, apiError{400, "InvalidKeyUsageException", "unsupported algorithm"})
		return
	}
	var resp any
	var e *apiError
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.Encrypt":
		resp, e = s.encrypt(req.KeyId, req.Plaintext, req.EncryptionContext, f)
	case "TrentService.Decrypt":
		resp, e = s.decrypt(req.KeyId, req.CiphertextBlob, req.EncryptionContext, f)
	default:
		e = &apiError{400, "UnknownOperationException", ""}
	}
	if e != nil {
		writeError(w, *e)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

// canonical encodes an encryption context unambiguously, sorted by key.
func canonical(ec map[string]string) []byte {
	ks := make([]string, 0, len(ec))
	for k := range ec {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b []byte
	for _, k := range ks {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func usable(k *key) *apiError {
	switch k.state {
	case "Enabled":
		return nil
	case "PendingDeletion":
		return &apiError{400, "KMSInvalidStateException", KeyARN(k.id) + " is pending deletion."}
	default:
		return &apiError{400, "DisabledException", KeyARN(k.id) + " is disabled."}
	}
}

type encryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

// Ciphertext blob: key id (36 bytes) || nonce || AES-GCM sealed, with the
// key id and canonical encryption context as GCM associated data.
func (s *Server) encrypt(ref string, pt []byte, ec map[string]string, f Fault) (any, *apiError) {
	if len(pt) == 0 || len(pt) > 4096 {
		return nil, &apiError{400, "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096"}
	}
	s.mu.Lock()
	k := s.resolve(ref)
	s.mu.Unlock()
	if k == nil {
		return nil, &apiError{400, "NotFoundException", "Key '" + ref + "' does not exist"}
	}
	if e := usable(k); e != nil {
		return nil, e
	}
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte(k.id), nonce...)
	out = k.aead.Seal(out, nonce, pt, append([]byte(k.id), canonical(ec)...))
	arn := KeyARN(k.id)
	if f == WrongKeyID {
		arn = KeyARN("00000000-0000-0000-0000-000000000000")
	}
	return encryptOutput{CiphertextBlob: out, KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

type decryptOutput struct {
	Plaintext           []byte
	KeyId               string
	EncryptionAlgorithm string
}

var errInvalidCiphertext = &apiError{400, "InvalidCiphertextException", ""}

func (s *Server) decrypt(ref string, ct []byte, ec map[string]string, f Fault) (any, *apiError) {
	const idLen = 36
	if len(ct) < idLen {
		return nil, errInvalidCiphertext
	}
	s.mu.Lock()
	k := s.keys[string(ct[:idLen])]
	var pinned *key
	if ref != "" {
		pinned = s.resolve(ref)
	}
	s.mu.Unlock()
	if ref != "" && pinned == nil {
		return nil, &apiError{400, "NotFoundException", "Key '" + ref + "' does not exist"}
	}
	if k == nil {
		return nil, errInvalidCiphertext
	}
	if pinned != nil && pinned != k {
		return nil, &apiError{400, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation."}
	}
	if e := usable(k); e != nil {
		return nil, e
	}
	ns := k.aead.NonceSize()
	if len(ct) < idLen+ns+k.aead.Overhead() {
		return nil, errInvalidCiphertext
	}
	pt, err := k.aead.Open(nil, ct[idLen:idLen+ns], ct[idLen+ns:], append([]byte(k.id), canonical(ec)...))
	if err != nil {
		return nil, errInvalidCiphertext
	}
	arn := KeyARN(k.id)
	if f == WrongKeyID {
		arn = KeyARN("00000000-0000-0000-0000-000000000000")
	}
	return decryptOutput{Plaintext: pt, KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}
