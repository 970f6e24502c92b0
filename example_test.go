package entgldb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	entgldb "github.com/entgldb/entgldb-go"
	"github.com/entgldb/entgldb-go/app"
)

type user struct {
	ID   string `json:"id" entgldb:"key"`
	Name string `json:"name"`
	Age  int    `json:"age"`
}

// An embedded node: SQLite in a directory of its own, no HTTP API, no
// discovery, the sync listener on a free loopback port.
func Example() {
	dir, _ := os.MkdirTemp("", "entgldb-example")
	defer os.RemoveAll(dir)

	cfg := entgldb.DefaultConfig()
	cfg.Persistence.DatabasePath = filepath.Join(dir, "app.db")
	cfg.Persistence.BackupPath = filepath.Join(dir, "backups")
	cfg.Network.BindAddress = "127.0.0.1"
	cfg.Network.TcpPort = 0
	cfg.Network.EnableDiscovery = false
	cfg.Http.Enabled = false

	ctx := context.Background()
	node, err := entgldb.Open(ctx, entgldb.Options{Config: cfg})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	defer node.Stop(ctx)

	users := node.Collection("users")
	if _, _, err := app.Put(ctx, users, user{ID: "u1", Name: "Ada", Age: 36}); err != nil {
		fmt.Println("put:", err)
		return
	}
	u, _, err := app.Get[user](ctx, users, "u1")
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	fmt.Println(u.Name, u.Age)

	_, err = users.Get(ctx, "nobody")
	fmt.Println(err != nil)
	// Output:
	// Ada 36
	// true
}
