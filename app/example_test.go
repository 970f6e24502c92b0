package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/entgldb/entgldb-go/adapters/cache"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/domain"
)

type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	City string `json:"city"`
}

// An embedder opens a store, builds a Database and works with collections,
// raw JSON or typed structs.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "entgldb-example")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "db"), EnableWAL: true})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	clock := domain.NewClock("node-1", func() int64 { return time.Now().UnixMilli() }, 60_000)
	db, err := app.NewDatabase(store, cache.New(50<<20), clock, nil, app.DatabaseOptions{})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	people := db.Collection("people")
	v1, _ := people.Put(ctx, "ada", []byte(`{"id":"ada","name":"Ada","city":"London"}`))
	_, err = people.PutIf(ctx, "ada", []byte(`{"id":"ada","name":"Ada","city":"Paris"}`), v1)
	fmt.Println("conditional put:", err)
	_, err = people.PutIf(ctx, "ada", []byte(`{"id":"ada","name":"Ada","city":"Rome"}`), v1)
	fmt.Println("stale put is a conflict:", errors.Is(err, domain.ErrConflict))

	_, _, _ = app.Put(ctx, people, Person{ID: "alan", Name: "Alan", City: "London"})
	londoners, _ := app.Find[Person](ctx, people, domain.Query{
		Filter: domain.Cmp{Op: domain.OpEq, Path: "city", Value: "London"},
	})
	fmt.Println("in London:", londoners)

	ada, _, _ := app.Get[Person](ctx, people, "ada")
	fmt.Println("ada lives in", ada.City)

	_, _ = people.Delete(ctx, "ada")
	_, err = people.Get(ctx, "ada")
	fmt.Println("after delete:", domain.CodeOf(err))
	// Output:
	// conditional put: <nil>
	// stale put is a conflict: true
	// in London: [{alan Alan London}]
	// ada lives in Paris
	// after delete: NOT_FOUND
}
