// Package vaulttest runs Vault's own Transit secrets engine in-process
// behind a small HTTP front end, so the vault backend's tests talk to the
// real engine through the real github.com/hashicorp/vault/api client.
//
// It lives in a nested module (its own go.mod) so that Vault, its licence
// and its dependency tree never reach the library's go.mod. Run its tests
// with:
//
//	cd internal/vaulttest && go test -race ./...
//
// The front end does what Vault's HTTP layer does for the requests the
// backend sends: it serves /v1/MOUNT/..., checks X-Vault-Token, decodes
// JSON bodies (numbers kept as json.Number), maps GET to a read and
// POST/PUT to an update (a create when the path's existence check says the
// entry is missing, as Vault's router does), answers {"data": ...} or 204,
// and maps errors to {"errors": [...]} with the status codes of Vault's own
// logical.RespondErrorCommon. Faults can be injected in front of it, and
// request parameters hidden from it (DropParam).
//
// Storage is logical.InmemStorage; the keys are test material only.
package vaulttest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/fieldguard/pii/internal/kmsfake/vaultfake"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"
)

// Server is Vault's Transit engine behind HTTP on 127.0.0.1.
type Server struct {
	// Token is the only token the server accepts (random per Server).
	Token string

	// Faults injects failures in front of the engine (Inject, SetAlways,
	// Calls), with the Fault kinds of package vaultfake.
	vaultfake.Faults

	hs     *httptest.Server
	mounts map[string]mount

	mu      sync.Mutex
	dropped map[string]bool // request parameter -> warn
}

type mount struct {
	backend logical.Backend
	storage logical.Storage
}

// Start starts a Server with a Transit engine mounted at each of mounts
// (default "transit").
func Start(mounts ...string) (*Server, error) {
	if len(mounts) == 0 {
		mounts = []string{"transit"}
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s := &Server{Token: "hvs.test-" + hex.EncodeToString(tok), mounts: map[string]mount{}}
	for _, m := range mounts {
		conf := logical.TestBackendConfig()
		conf.StorageView = &logical.InmemStorage{}
		conf.Logger = hclog.NewNullLogger()
		b, err := transit.Factory(context.Background(), conf)
		if err != nil {
			return nil, fmt.Errorf("vaulttest: transit backend: %w", err)
		}
		s.mounts[strings.Trim(m, "/")] = mount{backend: b, storage: conf.StorageView}
	}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// URL returns http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.hs.URL }

// Close stops the server.
func (s *Server) Close() {
	s.Release()
	s.hs.Close()
}

// DropParam makes the front end hide the request parameter name from the
// engine, as a proxy that filters parameters might. Without warn it is
// removed silently; with warn the engine receives it as "x-"+name, a
// parameter it does not know, and answers as Vault does for any such
// parameter (a Vault older than the parameter, for example): it ignores
// it and adds the warning "Endpoint ignored these unrecognized
// parameters: [x-NAME]".
func (s *Server) DropParam(name string, warn bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped == nil {
		s.dropped = map[string]bool{}
	}
	s.dropped[name] = warn
}

func (s *Server) filter(data map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, warn := range s.dropped {
		v, ok := data[name]
		if !ok {
			continue
		}
		delete(data, name)
		if warn {
			data["x-"+name] = v
		}
	}
}

// Do sends one request to the engine directly (no HTTP, no faults), for
// test set-up such as creating keys: Do(ctx, "transit", logical.UpdateOperation,
// "keys/a", map[string]any{"type": "aes256-gcm96"}).
func (s *Server) Do(ctx context.Context, mountPath string, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	m, ok := s.mounts[mountPath]
	if !ok {
		return nil, fmt.Errorf("vaulttest: no mount %q", mountPath)
	}
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: m.storage, MountPoint: mountPath + "/"}
	s.upgradeToCreate(ctx, m, req)
	resp, err := m.backend.HandleRequest(ctx, req)
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	return resp, err
}

// CreateKey creates a Transit key of the given type ("" means
// aes256-gcm96), derived or not.
func (s *Server) CreateKey(ctx context.Context, mountPath, name, typ string, derived bool) error {
	if typ == "" {
		typ = "aes256-gcm96"
	}
	_, err := s.Do(ctx, mountPath, logical.UpdateOperation, "keys/"+name, map[string]any{"type": typ, "derived": derived})
	return err
}

// upgradeToCreate turns an update into a create when the path has an
// existence check and the entry does not exist, as Vault's router does.
func (s *Server) upgradeToCreate(ctx context.Context, m mount, req *logical.Request) {
	if req.Operation != logical.UpdateOperation {
		return
	}
	found, exists, err := m.backend.HandleExistenceCheck(ctx, req)
	if err == nil && found && !exists {
		req.Operation = logical.CreateOperation
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Intercept(w, r) {
		return
	}

	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Vault-Token")), []byte(s.Token)) != 1 {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound)
		return
	}
	// The longest mount that prefixes the path, as Vault's router matches.
	var mountPath string
	for m := range s.mounts {
		if strings.HasPrefix(path, m+"/") && len(m) > len(mountPath) {
			mountPath = m
		}
	}
	if mountPath == "" {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", path))
		return
	}
	m := s.mounts[mountPath]
	req := &logical.Request{
		Path:        strings.TrimPrefix(path, mountPath+"/"),
		Storage:     m.storage,
		MountPoint:  mountPath + "/",
		ClientToken: s.Token,
	}
	switch r.Method {
	case http.MethodGet:
		req.Operation = logical.ReadOperation
	case http.MethodPost, http.MethodPut:
		req.Operation = logical.UpdateOperation
		dec := json.NewDecoder(io.LimitReader(r.Body, 32<<20))
		dec.UseNumber()
		var data map[string]any
		if err := dec.Decode(&data); err != nil && !errors.Is(err, io.EOF) {
			writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
		s.filter(data)
		req.Data = data
	case "LIST":
		req.Operation = logical.ListOperation
	case http.MethodDelete:
		req.Operation = logical.DeleteOperation
	default:
		writeErrors(w, http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	s.upgradeToCreate(ctx, m, req)
	resp, err := m.backend.HandleRequest(ctx, req)
	if status, rerr := logical.RespondErrorCommon(req, resp, err); status != 0 {
		if rerr == nil {
			writeErrors(w, status)
		} else {
			writeErrors(w, status, rerr.Error())
		}
		return
	}
	if resp == nil || (resp.Data == nil && len(resp.Warnings) == 0) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id":     "00000000-0000-0000-0000-000000000000",
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           resp.Data,
		"wrap_info":      nil,
		"warnings":       resp.Warnings,
		"auth":           nil,
	})
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErrors writes Vault's error body, {"errors": [...]}.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": msgs})
}
