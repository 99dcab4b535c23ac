package gormpii_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/fieldguard/pii/gormpii"
	"github.com/fieldguard/pii/guard"
	"github.com/fieldguard/pii/keyprovider/local"
)

// The struct-level path through GORM: create protects, queries open, the
// tenant scope is required, FindBy searches a sealed field.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "gormpii")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	// A development keyset made for the example; never hard-code a master
	// key (local.MasterKeyFromEnv, or your KMS).
	master, _ := local.GenerateMasterKey()
	kp, err := local.Create(filepath.Join(dir, "keyset.json"), master)
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	g, err := guard.New(kp, sqlDB, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Use(gormpii.New(g, nil)); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Customer{}); err != nil {
		log.Fatal(err)
	}
	if _, err := gormpii.Register[Customer](g, db); err != nil { // Forget, Sweep, Export see its rows
		log.Fatal(err)
	}
	if err := g.CreateTables(ctx); err != nil {
		log.Fatal(err)
	}

	c := Customer{Tenant: "acme", ID: "c1", Subject: "sub-1", Name: "Ada Lovelace", Email: "ada@example.com", Card: "4111111111111111"}
	if err := db.Create(&c).Error; err != nil {
		log.Fatal(err)
	}
	fmt.Println("written sealed:", c.Name != "Ada Lovelace")

	var all []Customer
	fmt.Println("without a tenant:", db.Find(&all).Error != nil)
	var found []Customer
	if err := db.Scopes(gormpii.FindBy("acme", "Email", "ada@example.com")).Find(&found).Error; err != nil {
		log.Fatal(err)
	}
	fmt.Println("found:", found[0].Name, found[0].Card[:9])
	// Output:
	// written sealed: true
	// without a tenant: true
	// found: Ada Lovelace CARD(16):
}
