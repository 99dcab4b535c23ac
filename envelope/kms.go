package envelope

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldguard/pii/keyprovider"
)

// Key provider calls and the freshness of what they returned.

func (s *Sealer) wrap(ctx context.Context, key, ad []byte) ([]byte, keyprovider.KeyID, error) {
	s.st.wraps.Add(1)
	w, id, err := s.kp.Wrap(ctx, key, ad)
	if err != nil {
		return nil, id, fmt.Errorf("envelope: wrap: %w", keyprovider.Classify("wrap", keyprovider.ErrUnavailable, err))
	}
	return w, id, nil
}

func (s *Sealer) unwrap(ctx context.Context, wrapped, ad []byte) ([]byte, error) {
	s.st.unwraps.Add(1)
	k, err := s.kp.Unwrap(ctx, wrapped, ad)
	if err != nil {
		return nil, kmsError("unwrap", err)
	}
	if len(k) != keySize {
		clear(k)
		return nil, ErrDecrypt
	}
	return k, nil
}

func isUnavailable(err error) bool { return errors.Is(err, keyprovider.ErrUnavailable) }

func (s *Sealer) withinGrace(loaded, now int64) bool {
	return s.opts.OutageGrace > 0 && now-loaded < int64(s.opts.Cache.MaxAge+s.opts.OutageGrace)
}

func (s *Sealer) fresh(loaded, now int64) bool { return now-loaded < int64(s.opts.Cache.MaxAge) }
