// Package gormpii is a GORM plugin for github.com/fieldguard/pii/guard.
package gormpii
