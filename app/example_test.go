package app_test

import (
	"context"
	"encoding/json"
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

// The use cases under a store of one's own: a Database over SQLite, its
// collections read and written as raw JSON. (Embedders open a whole node
// with package entgldb, which also has the typed helpers.)
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

	_, _ = people.Put(ctx, "alan", []byte(`{"id":"alan","name":"Alan","city":"London"}`))
	londoners, _ := people.Find(ctx, domain.Query{
		Filter: domain.Cmp{Op: domain.OpEq, Path: "city", Value: "London"},
	})
	fmt.Println("in London:", len(londoners), londoners[0].Key)

	ada, _ := people.Get(ctx, "ada")
	var p Person
	_ = json.Unmarshal(ada.Data, &p)
	fmt.Println("ada lives in", p.City)

	_, _ = people.Delete(ctx, "ada")
	_, err = people.Get(ctx, "ada")
	fmt.Println("after delete:", domain.CodeOf(err))
	// Output:
	// conditional put: <nil>
	// stale put is a conflict: true
	// in London: 1 alan
	// ada lives in Paris
	// after delete: NOT_FOUND
}
