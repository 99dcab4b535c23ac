// Package gcpkmstest runs an in-process imitation of Google Cloud KMS for
// tests and examples: a real gRPC server on 127.0.0.1 serving
// kmspb.KeyManagementServiceServer, reached by the real Go client.
//
// No Cloud KMS emulator exists, so this one implements what the gcpkms
// backend relies on, as the API documents it: symmetric CryptoKeys with
// versions (AES-256-GCM per version; the ciphertext names its version),
// Encrypt with the primary version and Decrypt with any enabled version,
// CRC32C checksums and verified_* flags, the CryptoKeyVersion name in the
// Encrypt response, InvalidArgument for a ciphertext that does not
// authenticate, NotFound and FailedPrecondition for missing and disabled
// keys. [Server.Inject] queues faults for the next calls.
//
// The key material is random per Server and lives only in memory; it is
// test material and must never protect real data.
package gcpkmstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Fault is a failure the Server injects into one call.
type Fault int

const (
	// Unavailable answers with codes.Unavailable.
	Unavailable Fault = iota + 1
	// Hang blocks until the client gives up (its context ends).
	Hang
	// CorruptCRC answers with a wrong ciphertext_crc32c (Encrypt) or
	// plaintext_crc32c (Decrypt), as if the response was damaged in transit.
	CorruptCRC
	// Unverified answers Encrypt with verified_plaintext_crc32c false.
	Unverified
	// WrongKeyName answers Encrypt naming a version of another key.
	WrongKeyName
	// PermissionDenied answers with codes.PermissionDenied.
	PermissionDenied
	// ResourceExhausted answers with codes.ResourceExhausted (quota).
	ResourceExhausted
	// UnverifiedAAD answers Encrypt with
	// verified_additional_authenticated_data_crc32c false, as if the
	// associated data had not reached the server intact.
	UnverifiedAAD
)

// Server is an in-process Cloud KMS. Create it with [Start].
type Server struct {
	addr string
	srv  *grpc.Server

	calls atomic.Int64

	mu     sync.Mutex
	keys   map[string]*cryptoKey
	faults []Fault
	always Fault
}

// service is a Server's gRPC face: the KeyManagementService methods the
// gcpkms backend calls, the others answering Unimplemented.
type service struct {
	kmspb.UnimplementedKeyManagementServiceServer
	*Server
}

type cryptoKey struct {
	versions []*keyVersion // index i is version i+1
	primary  int           // version number
}

type keyVersion struct {
	aead    cipher.AEAD
	state   string // "ENABLED", "DISABLED", "DESTROY_SCHEDULED", "DESTROYED"
	created time.Time
}

// Start starts a Server on 127.0.0.1 with the given CryptoKeys, each with
// one enabled primary version.
func Start(keyNames ...string) (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gcpkmstest: %w", err)
	}
	s := &Server{addr: lis.Addr().String(), srv: grpc.NewServer(), keys: map[string]*cryptoKey{}}
	for _, k := range keyNames {
		if _, err := s.CreateKey(k); err != nil {
			lis.Close()
			return nil, err
		}
	}
	kmspb.RegisterKeyManagementServiceServer(s.srv, service{Server: s})
	go s.srv.Serve(lis) //nolint:errcheck // returns when Close stops the server
	return s, nil
}

// Close stops the server, ending calls in flight.
func (s *Server) Close() { s.srv.Stop() }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientOptions returns the options that point a Cloud KMS client at s:
// its endpoint, no authentication, plain-text gRPC on loopback.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Calls returns the number of Encrypt and Decrypt calls received.
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

// CreateKey adds a CryptoKey with one primary version and returns that
// version's name.
func (s *Server) CreateKey(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[name]; ok {
		return "", fmt.Errorf("gcpkmstest: key %q exists", name)
	}
	k := &cryptoKey{}
	s.keys[name] = k
	return name + "/cryptoKeyVersions/" + strconv.Itoa(k.add()), nil
}

// Rotate adds a version to the key, makes it primary and returns its name.
func (s *Server) Rotate(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[name]
	if !ok {
		return "", fmt.Errorf("gcpkmstest: no key %q", name)
	}
	return name + "/cryptoKeyVersions/" + strconv.Itoa(k.add()), nil
}

// SetVersionState sets a version's state: "ENABLED", "DISABLED",
// "DESTROY_SCHEDULED" or "DESTROYED".
func (s *Server) SetVersionState(name string, version int, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[name]
	if !ok || version < 1 || version > len(k.versions) {
		return fmt.Errorf("gcpkmstest: no version %d of %q", version, name)
	}
	k.versions[version-1].state = state
	return nil
}

func (k *cryptoKey) add() int {
	kb := make([]byte, 32)
	_, _ = rand.Read(kb)
	b, _ := aes.NewCipher(kb)
	a, _ := cipher.NewGCM(b)
	k.versions = append(k.versions, &keyVersion{aead: a, state: "ENABLED", created: time.Now()})
	k.primary = len(k.versions)
	return k.primary
}

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))) }

// fault takes the next fault and applies the ones that end the call.
func (s *Server) fault(ctx context.Context) (Fault, error) {
	s.calls.Add(1)
	s.mu.Lock()
	f := s.always
	if f == 0 && len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case Unavailable:
		return f, status.Error(codes.Unavailable, "gcpkmstest: injected unavailability")
	case PermissionDenied:
		return f, status.Error(codes.PermissionDenied, "gcpkmstest: injected permission denial")
	case ResourceExhausted:
		return f, status.Error(codes.ResourceExhausted, "gcpkmstest: injected quota exhaustion")
	case Hang:
		<-ctx.Done()
		return f, status.FromContextError(ctx.Err()).Err()
	}
	return f, nil
}

// version finds an enabled version by number.
func (s *Server) version(name string, n int) (*keyVersion, error) {
	k, ok := s.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	if n < 1 || n > len(k.versions) {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	v := k.versions[n-1]
	if v.state != "ENABLED" {
		return nil, status.Errorf(codes.FailedPrecondition, "%s/cryptoKeyVersions/%d is not enabled, current state is: %s.", name, n, v.state)
	}
	return v, nil
}

// Encrypt implements kmspb.KeyManagementServiceServer.
func (s service) Encrypt(ctx context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	f, err := s.fault(ctx)
	if err != nil {
		return nil, err
	}
	if pc := req.GetPlaintextCrc32C(); pc != nil && pc.GetValue() != crc(req.GetPlaintext()) {
		return nil, status.Error(codes.InvalidArgument, "The checksum in field plaintext_crc32c did not match the data in field plaintext.")
	}
	if ac := req.GetAdditionalAuthenticatedDataCrc32C(); ac != nil && ac.GetValue() != crc(req.GetAdditionalAuthenticatedData()) {
		return nil, status.Error(codes.InvalidArgument, "The checksum in field additional_authenticated_data_crc32c did not match the data in field additional_authenticated_data.")
	}
	if len(req.GetPlaintext()) > 64<<10 || len(req.GetAdditionalAuthenticatedData()) > 64<<10 {
		return nil, status.Error(codes.InvalidArgument, "The request exceeds the maximum size.")
	}
	s.mu.Lock()
	name := req.GetName()
	k, ok := s.keys[name]
	if !ok {
		s.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	n := k.primary
	v, err := s.version(name, n)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Ciphertext: version (4 bytes, big-endian) || nonce || AES-GCM sealed.
	// The key name and version are bound as GCM associated data together
	// with the caller's.
	out := binary.BigEndian.AppendUint32(nil, uint32(n))
	nonce := make([]byte, v.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	out = v.aead.Seal(out, nonce, req.GetPlaintext(), gcmAD(name, n, req.GetAdditionalAuthenticatedData()))
	resp := &kmspb.EncryptResponse{
		Name:                    fmt.Sprintf("%s/cryptoKeyVersions/%d", name, n),
		Ciphertext:              out,
		CiphertextCrc32C:        wrapperspb.Int64(crc(out)),
		VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil,
		VerifiedAdditionalAuthenticatedDataCrc32C: req.GetAdditionalAuthenticatedDataCrc32C() != nil,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}
	switch f {
	case CorruptCRC:
		resp.CiphertextCrc32C = wrapperspb.Int64(resp.CiphertextCrc32C.GetValue() ^ 1)
	case Unverified:
		resp.VerifiedPlaintextCrc32C = false
	case UnverifiedAAD:
		resp.VerifiedAdditionalAuthenticatedDataCrc32C = false
	case WrongKeyName:
		resp.Name = "projects/other/locations/global/keyRings/r/cryptoKeys/other/cryptoKeyVersions/1"
	}
	return resp, nil
}

func gcmAD(name string, version int, ad []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(version))
	return append(b, ad...)
}

var errDecrypt = status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")

// Decrypt implements kmspb.KeyManagementServiceServer.
func (s service) Decrypt(ctx context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	f, err := s.fault(ctx)
	if err != nil {
		return nil, err
	}
	if cc := req.GetCiphertextCrc32C(); cc != nil && cc.GetValue() != crc(req.GetCiphertext()) {
		return nil, status.Error(codes.InvalidArgument, "The checksum in field ciphertext_crc32c did not match the data in field ciphertext.")
	}
	if ac := req.GetAdditionalAuthenticatedDataCrc32C(); ac != nil && ac.GetValue() != crc(req.GetAdditionalAuthenticatedData()) {
		return nil, status.Error(codes.InvalidArgument, "The checksum in field additional_authenticated_data_crc32c did not match the data in field additional_authenticated_data.")
	}
	name := req.GetName()
	if strings.Contains(name, "/cryptoKeyVersions/") {
		return nil, status.Error(codes.InvalidArgument, "Decrypt takes a CryptoKey name.")
	}
	ct := req.GetCiphertext()
	s.mu.Lock()
	if _, ok := s.keys[name]; !ok {
		s.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	if len(ct) < 4 {
		s.mu.Unlock()
		return nil, errDecrypt
	}
	n := int(binary.BigEndian.Uint32(ct))
	if n > 1<<20 {
		n = 0
	}
	v, err := s.version(name, n)
	primary := s.keys[name].primary
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ns := v.aead.NonceSize()
	if len(ct) < 4+ns+v.aead.Overhead() {
		return nil, errDecrypt
	}
	pt, err := v.aead.Open(nil, ct[4:4+ns], ct[4+ns:], gcmAD(name, n, req.GetAdditionalAuthenticatedData()))
	if err != nil {
		return nil, errDecrypt
	}
	resp := &kmspb.DecryptResponse{
		Plaintext:       pt,
		PlaintextCrc32C: wrapperspb.Int64(crc(pt)),
		UsedPrimary:     n == primary,
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
	}
	if f == CorruptCRC {
		resp.PlaintextCrc32C = wrapperspb.Int64(resp.PlaintextCrc32C.GetValue() ^ 1)
	}
	return resp, nil
}

func (s *Server) versionPB(name string, n int, v *keyVersion) *kmspb.CryptoKeyVersion {
	return &kmspb.CryptoKeyVersion{
		Name:            fmt.Sprintf("%s/cryptoKeyVersions/%d", name, n),
		State:           kmspb.CryptoKeyVersion_CryptoKeyVersionState(kmspb.CryptoKeyVersion_CryptoKeyVersionState_value[v.state]),
		ProtectionLevel: kmspb.ProtectionLevel_SOFTWARE,
		Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		CreateTime:      timestamppb.New(v.created),
	}
}

// cryptoKeyPB describes a key; s.mu is held.
func (s *Server) cryptoKeyPB(name string, k *cryptoKey) *kmspb.CryptoKey {
	return &kmspb.CryptoKey{
		Name:    name,
		Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT,
		Primary: s.versionPB(name, k.primary, k.versions[k.primary-1]),
	}
}

// GetCryptoKey implements kmspb.KeyManagementServiceServer.
func (s service) GetCryptoKey(ctx context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	if _, err := s.fault(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetName())
	}
	return s.cryptoKeyPB(req.GetName(), k), nil
}

// ListCryptoKeyVersions implements kmspb.KeyManagementServiceServer (one
// page).
func (s service) ListCryptoKeyVersions(ctx context.Context, req *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	if _, err := s.fault(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[req.GetParent()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetParent())
	}
	resp := &kmspb.ListCryptoKeyVersionsResponse{TotalSize: int32(len(k.versions))}
	for i, v := range k.versions {
		resp.CryptoKeyVersions = append(resp.CryptoKeyVersions, s.versionPB(req.GetParent(), i+1, v))
	}
	return resp, nil
}

// CreateCryptoKeyVersion implements kmspb.KeyManagementServiceServer. The
// new version is enabled at once (a software key) but not primary.
func (s service) CreateCryptoKeyVersion(ctx context.Context, req *kmspb.CreateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	if _, err := s.fault(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[req.GetParent()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetParent())
	}
	primary := k.primary
	n := k.add()
	k.primary = primary
	return s.versionPB(req.GetParent(), n, k.versions[n-1]), nil
}

// UpdateCryptoKeyPrimaryVersion implements kmspb.KeyManagementServiceServer.
func (s service) UpdateCryptoKeyPrimaryVersion(ctx context.Context, req *kmspb.UpdateCryptoKeyPrimaryVersionRequest) (*kmspb.CryptoKey, error) {
	if _, err := s.fault(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", req.GetName())
	}
	n, err := strconv.Atoi(req.GetCryptoKeyVersionId())
	if err != nil || n < 1 || n > len(k.versions) {
		return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s/cryptoKeyVersions/%s not found.", req.GetName(), req.GetCryptoKeyVersionId())
	}
	if k.versions[n-1].state != "ENABLED" {
		return nil, status.Errorf(codes.FailedPrecondition, "%s/cryptoKeyVersions/%d is not enabled, current state is: %s.", req.GetName(), n, k.versions[n-1].state)
	}
	k.primary = n
	return s.cryptoKeyPB(req.GetName(), k), nil
}
