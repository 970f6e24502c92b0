package entgldb

import (
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/internal/nodeaccess"
)

func init() {
	nodeaccess.Node = func(db any) *app.Node { return db.(*DB).node }
}
