package entgldb_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	entgldb "github.com/entgldb/entgldb-go"
)

type person struct {
	ID   string `json:"id" entgldb:"key"`
	Name string `json:"name"`
	City string `json:"city"`
}

// An embedded node for local development: data in a directory of its own,
// the sync listener on a free loopback port, no discovery, no HTTP API.
func Example() {
	dir, _ := os.MkdirTemp("", "entgldb-example")
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := entgldb.Open(ctx, entgldb.Options{Config: entgldb.LocalConfig(dir)})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer db.Close()

	people := db.Collection("people")
	if _, _, err := entgldb.Put(ctx, people, person{ID: "ada", Name: "Ada", City: "London"}); err != nil {
		fmt.Println("put:", err)
		return
	}
	_, _, _ = entgldb.Put(ctx, people, person{ID: "alan", Name: "Alan", City: "Manchester"})

	ada, version, err := entgldb.Get[person](ctx, people, "ada")
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	fmt.Println(ada.Name, "lives in", ada.City)

	// A conditional write against a version someone else replaced fails.
	_, _ = people.PutIf(ctx, "ada", []byte(`{"id":"ada","name":"Ada","city":"Paris"}`), version)
	_, err = people.PutIf(ctx, "ada", []byte(`{"id":"ada","name":"Ada","city":"Rome"}`), version)
	fmt.Println("stale write is a conflict:", errors.Is(err, entgldb.ErrConflict))

	inParis, _ := entgldb.Find[person](ctx, people, entgldb.Query{
		Filter: entgldb.Cmp{Op: entgldb.OpEq, Path: "city", Value: "Paris"},
	})
	fmt.Println("in Paris:", len(inParis), inParis[0].Name)

	_, err = people.Get(ctx, "nobody")
	fmt.Println(entgldb.CodeOf(err))
	// Output:
	// Ada lives in London
	// stale write is a conflict: true
	// in Paris: 1 Ada
	// NOT_FOUND
}
