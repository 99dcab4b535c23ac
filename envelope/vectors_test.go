package envelope_test

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/fieldguard/pii/envelope"
	"github.com/fieldguard/pii/internal/wycheproof"
	"github.com/stretchr/testify/require"
)

type wpFile struct {
	NumberOfTests int `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize int `json:"keySize"`
		IvSize  int `json:"ivSize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Key     string   `json:"key"`
			Iv      string   `json:"iv"`
			Aad     string   `json:"aad"`
			Msg     string   `json:"msg"`
			Ct      string   `json:"ct"`
			Tag     string   `json:"tag"`
			Result  string   `json:"result"`
			Flags   []string `json:"flags"`
			Comment string   `json:"comment"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func loadWycheproof(t *testing.T, name string) wpFile {
	t.Helper()
	b, err := fs.ReadFile(wycheproof.FS(t), name)
	require.NoError(t, err)
	var f wpFile
	require.NoError(t, json.Unmarshal(b, &f))
	return f
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// knownGCMFlags are the flags of the 96-bit-IV vectors; an unknown flag
// fails the test so a new kind of vector is looked at, not skipped.
var knownGCMFlags = map[string]bool{"Pseudorandom": true, "ModifiedTag": true, "SpecialCase": true, "Ktv": true}

func TestWycheproofAESGCM(t *testing.T) {
	f := loadWycheproof(t, "aes_gcm_test.json")
	var valid, invalid int
	for _, g := range f.TestGroups {
		if g.IvSize != 96 {
			continue // envelope only ever uses 96-bit nonces
		}
		require.Equal(t, 128, g.TagSize)
		for _, tc := range g.Tests {
			for _, fl := range tc.Flags {
				require.True(t, knownGCMFlags[fl], "tcId %d: unknown flag %s", tc.TcID, fl)
			}
			a, err := envelope.NewGCM(unhex(t, tc.Key))
			require.NoError(t, err)
			iv, aad, msg := unhex(t, tc.Iv), unhex(t, tc.Aad), unhex(t, tc.Msg)
			ct := append(unhex(t, tc.Ct), unhex(t, tc.Tag)...)
			pt, err := a.Open(nil, iv, ct, aad)
			switch tc.Result {
			case "valid":
				require.NoError(t, err, "tcId %d", tc.TcID)
				require.Equal(t, msg, append([]byte{}, pt...), "tcId %d", tc.TcID)
				require.Equal(t, ct, a.Seal(nil, iv, msg, aad), "tcId %d", tc.TcID)
				valid++
			case "invalid":
				require.Error(t, err, "tcId %d", tc.TcID)
				invalid++
			default:
				t.Fatalf("tcId %d: unexpected result %q", tc.TcID, tc.Result)
			}
		}
	}
	require.Equal(t, 116, valid)
	require.Equal(t, 81, invalid)
}

func TestWycheproofAESSIV(t *testing.T) {
	f := loadWycheproof(t, "aes_siv_cmac_test.json")
	var valid, invalid int
	for _, g := range f.TestGroups {
		if g.KeySize != 512 {
			continue // envelope uses AES-SIV with a 512-bit key only
		}
		for _, tc := range g.Tests {
			for _, fl := range tc.Flags {
				require.Equal(t, "EdgeCaseSiv", fl, "tcId %d: unknown flag", tc.TcID)
			}
			siv, err := envelope.NewSIV(unhex(t, tc.Key))
			require.NoError(t, err)
			aad, msg, ct := unhex(t, tc.Aad), unhex(t, tc.Msg), unhex(t, tc.Ct)
			pt, err := siv.DecryptDeterministically(ct, aad)
			switch tc.Result {
			case "valid":
				require.NoError(t, err, "tcId %d", tc.TcID)
				require.Equal(t, msg, append([]byte{}, pt...), "tcId %d", tc.TcID)
				got, err := siv.EncryptDeterministically(msg, aad)
				require.NoError(t, err)
				require.Equal(t, ct, got, "tcId %d", tc.TcID)
				valid++
			case "invalid":
				require.Error(t, err, "tcId %d", tc.TcID)
				invalid++
			default:
				t.Fatalf("tcId %d: unexpected result %q", tc.TcID, tc.Result)
			}
		}
	}
	require.Equal(t, 39, valid)
	require.Equal(t, 108, invalid)
}
