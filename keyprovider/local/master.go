package local

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// masterKeySize is the length of a master key in bytes.
const masterKeySize = 32

// GenerateMasterKey returns a new random 32-byte master key.
func GenerateMasterKey() ([]byte, error) {
	k := make([]byte, masterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("local: generate master key: %w", err)
	}
	return k, nil
}

// MasterKeyFromEnv reads a base64 master key from the environment variable
// name (PII_MASTER_KEY by convention). Errors name the variable, never its
// value.
func MasterKeyFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("local: environment variable %s is not set; set it to a base64 %d-byte master key", name, masterKeySize)
	}
	k, err := decodeMasterKey(v)
	if err != nil {
		return nil, fmt.Errorf("local: environment variable %s: %w", name, err)
	}
	return k, nil
}

// MasterKeyFromFile reads a master key from a file holding its base64 text
// or its 32 raw bytes. The file must not be accessible by group or others
// (on Unix, none of the mode bits 0o077); such a file is refused.
func MasterKeyFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("local: master key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("local: master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("local: master key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("local: master key file %s has mode %#o and is readable or writable by group or others; refusing to use it; fix with: chmod 600 %s", path, perm, path)
	}
	data := make([]byte, 0, 64)
	buf := bytes.NewBuffer(data)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("local: master key file %s: read failed", path)
	}
	data = buf.Bytes()
	defer clear(data)
	if len(data) == masterKeySize { // raw bytes: base64 of 32 bytes is 43 or 44 characters
		return bytes.Clone(data), nil
	}
	k, err := decodeMasterKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("local: master key file %s: %w", path, err)
	}
	return k, nil
}

// WriteMasterKeyFile writes master as base64 text to a new file with mode
// 0600. It refuses to overwrite an existing file.
func WriteMasterKeyFile(path string, master []byte) error {
	if len(master) != masterKeySize {
		return fmt.Errorf("local: master key must be %d bytes, got %d", masterKeySize, len(master))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("local: write master key file: %w", err)
	}
	text := []byte(base64.StdEncoding.EncodeToString(master) + "\n")
	defer clear(text)
	if _, err := f.Write(text); err != nil {
		f.Close()
		return fmt.Errorf("local: write master key file %s: write failed", path)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("local: write master key file %s: sync failed", path)
	}
	return f.Close()
}

var errMasterEncoding = errors.New("not a base64 " + fmt.Sprint(masterKeySize) + "-byte master key")

// decodeMasterKey accepts standard or URL base64, padded or not, with
// surrounding white space. Its errors never include the input.
func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != masterKeySize {
			clear(k)
			return nil, fmt.Errorf("master key is %d bytes, want %d", len(k), masterKeySize)
		}
		return k, nil
	}
	return nil, errMasterEncoding
}
