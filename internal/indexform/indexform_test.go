package indexform

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldguard/pii"
)

func TestPrefix(t *testing.T) {
	require.Equal(t, "éco", prefix("économie", 3))
	require.Equal(t, "ab", prefix("ab", 3))
	require.Equal(t, "abc", prefix("abc", 0))
	require.Equal(t, "\xff\xfeé", prefix("\xff\xfeéx", 3), "invalid UTF-8 counts byte by byte")
}

type tagged struct {
	Name    string `pii:"name,encrypt,index,norm=lower|trim,prefix=3"`
	Email   string `pii:"email,encrypt,index,norm=email"`
	Surname string `pii:"name,encrypt,index"`
}

func TestOf(t *testing.T) {
	s, err := pii.SchemaOf(tagged{})
	require.NoError(t, err)
	require.Equal(t, "ali", Of(s.Field("Name").Opts, "  ALICE"))
	require.Equal(t, "ada@example.com", Of(s.Field("Email").Opts, " Ada@Example.COM"))
	require.Equal(t, " As Is", Of(s.Field("Surname").Opts, " As Is"))
}
