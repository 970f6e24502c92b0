//go:build wireinject

package entgldb

import (
	"context"

	"github.com/google/wire"
	"go.uber.org/zap"

	"github.com/entgldb/entgldb-go/adapters/config"
	"github.com/entgldb/entgldb-go/adapters/sqlite"
	"github.com/entgldb/entgldb-go/adapters/telemetry"
	"github.com/entgldb/entgldb-go/app"
	"github.com/entgldb/entgldb-go/ports"
)

// The provider sets, one per layer (the providers are in providers.go).
var (
	storeSet = wire.NewSet(provideStore, wire.Bind(new(ports.Store), new(*sqlite.Store)), provideNodeID, provideClock)
	appSet   = wire.NewSet(provideCache, telemetry.NewRegistry, provideMetrics, provideResolver, provideOutbox, provideDatabase, provideQueue, providePeerClocks,
		provideStatus, provideHealth, provideBackups, provideMaintenance)
	netSet  = wire.NewSet(provideIdentity, provideTrust, provideExecutor, provideDialer, provideSyncService, provideTCPServer, provideDiscovery, provideSyncEngine)
	httpSet = wire.NewSet(provideAPIKeys, provideHTTP)
)

// newNode is the injector: Wire generates its body in wire_gen.go from the
// provider sets in providers.go.
func newNode(ctx context.Context, cfg config.Config, logger *zap.Logger) (*app.Node, func(), error) {
	wire.Build(storeSet, appSet, netSet, httpSet, provideNode)
	return nil, nil, nil
}
