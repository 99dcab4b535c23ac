// Package tokenscope is the scope of a struct field's tokens, kept in one
// place for tokenize's Apply and Reverse and for guard, which reverses one
// field of a struct at a time: the tweak of every FPE token and the scope
// of every stored token are derived from it, so it must never drift.
package tokenscope

import "github.com/fieldguard/pii"

// Of returns the tenant, the field name and the data subject of field f of
// the record ptr points to: the record's tenant and subject, and "<type
// name>.<schema path>" as the field, so every element of Contacts[] shares
// one tweak and tokens join across records.
func Of(s *pii.Schema, ptr any, f *pii.Field) (tenant, field, subject string) {
	return s.TenantOf(ptr), s.Name + "." + f.Path, s.SubjectOf(ptr)
}
