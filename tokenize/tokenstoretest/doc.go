// Package tokenstoretest is the conformance suite every tokenize.TokenStore
// must pass: the built-in tokenize.NewMemoryStore and sqltokenstore.Store do,
// on SQLite and PostgreSQL, and so must a store you write for your own
// database.
//
//	func TestTokenStore(t *testing.T) {
//		tokenstoretest.Run(t, func(t *testing.T) tokenize.TokenStore {
//			return newStore(t) // empty, fresh for each call
//		})
//	}
//
// newStore is called once per subtest and must return an empty store.
// Run the suite under -race: one subtest drives 16 goroutines at once.
// The suite uses times on whole microseconds, the precision a store must
// keep at least.
//
// # What is checked
//
//   - PutGet: Get returns every field of the record Put stored (times
//     compared with time.Time.Equal); an unknown token is
//     tokenize.ErrNotFound.
//   - TokenExists: a second Put of a taken token, whoever it is for, fails
//     with tokenize.ErrTokenExists and leaves the first row as it was.
//   - Expiry: a record is live strictly before Expires and not found from
//     Expires on, by Get and by Find; a zero Expires never expires.
//   - FindNewest: Find returns the newest live record with exactly the
//     lookup hash asked for, never one of another lookup (another subject's
//     row), and tokenize.ErrNotFound when there is none.
//   - RowSubstitution: Get returns the row of the token asked for and Find
//     the row of the lookup asked for, not a neighbour's (same tenant,
//     field or value).
//   - DeleteSubject: deletes exactly the rows of (tenant, subject) and
//     returns their number; rows of the same subject id in another tenant
//     and of other subjects in the same tenant stay.
//   - TwoTenantsSharingSubjectID: through a convergent Tokenizer, the same
//     subject id and value in two tenants give two tokens that reverse only
//     in their own tenant, and deleting one tenant's subject keeps the
//     other's token.
//   - TwoSubjectsSharingValue: through a convergent Tokenizer, two subjects
//     of one tenant with the same value get two tokens; each reverses only
//     for its subject, and deleting one subject keeps the other's token.
//   - DeleteExpired: deletes exactly the rows expired at or before now and
//     returns their number; rows without expiry stay.
//   - TokenizerRoundTrip: a Tokenizer with TTL and a fake clock tokenizes,
//     converges, reverses and expires through the store.
//   - NoAliasing: the store keeps neither the record passed to Put nor the
//     one it returns: changing either changes nothing stored.
//   - Concurrent: goroutines putting distinct tokens all succeed and read
//     their own rows back; goroutines racing to put one token see exactly
//     one success and tokenize.ErrTokenExists for the others.
//   - NoTokensInErrors: no error returned in the subtest contains a token,
//     a value or a subject id the suite used.
//
// The suite tests itself against deliberately broken stores (one that
// ignores the tenant in DeleteSubject, one that returns another subject's
// row, one that overwrites taken tokens, …): each must fail the check
// named for its flaw.
package tokenstoretest
