//go:build wireinject

package entgldb

import (
	"context"

	"github.com/google/wire"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/app"
)

// newNode is the injector: Wire generates its body in wire_gen.go from the
// provider sets in providers.go.
func newNode(ctx context.Context, cfg config.Config, logger *zap.Logger) (*app.Node, func(), error) {
	wire.Build(storeSet, appSet, netSet, httpSet, provideNode)
	return nil, nil, nil
}
