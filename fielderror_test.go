package pii_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
)

type feRecord struct {
	ID      string `pii:"id"`
	Subject string `pii:"subject"`
	Email   string `pii:"email"`
}

type feSubjectOnly struct {
	Subject string `pii:"subject"`
	Email   string `pii:"email"`
}

type feBare struct {
	Email string `pii:"email"`
}

func TestFieldError(t *testing.T) {
	cause := errors.New("envelope: message authentication failed")
	s, err := pii.SchemaOf(feRecord{})
	require.NoError(t, err)
	fe := s.FieldError(&feRecord{ID: "r-7", Subject: "alice", Email: "a@example.com"}, "Email", cause)
	require.Equal(t, `envelope: feRecord.Email (record ID "r-7"): message authentication failed`, fe.Error())
	require.ErrorIs(t, fe, cause)
	require.NotContains(t, fe.Error(), "alice", "a subject id is never shown")
	require.NotContains(t, fe.Error(), "a@example.com")

	s, err = pii.SchemaOf(feSubjectOnly{})
	require.NoError(t, err)
	fe = s.FieldError(&feSubjectOnly{Subject: "alice"}, "Email", errors.New("tokenize: value is not a token of this field"))
	require.Equal(t, "tokenize: feSubjectOnly.Email (record of subject field Subject): value is not a token of this field", fe.Error())
	require.NotContains(t, fe.Error(), "alice")

	s, err = pii.SchemaOf(feBare{})
	require.NoError(t, err)
	fe = s.FieldError(&feBare{}, "Email", errors.New("Something odd: here"))
	require.Equal(t, "pii: feBare.Email: Something odd: here", fe.Error())

	long := strings.Repeat("x", 100)
	s, _ = pii.SchemaOf(feRecord{})
	fe = s.FieldError(&feRecord{ID: long}, "Email", errors.New("mask: field is still sealed"))
	require.Contains(t, fe.Error(), strings.Repeat("x", 64)+`..."`)
	require.NotContains(t, fe.Error(), strings.Repeat("x", 65))

	var as *pii.FieldError
	require.ErrorAs(t, errors.Join(errors.New("other"), fe), &as)
}
