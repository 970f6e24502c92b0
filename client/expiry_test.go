package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPutOptionsQuery(t *testing.T) {
	require.Equal(t, "", PutOptions{}.query(), "no expiry: the plain PUT as before")
	require.Equal(t, "?ttl=1h30m0s", PutOptions{TTL: 90 * time.Minute}.query())
	at := time.Date(2030, 1, 2, 15, 4, 5, 0, time.FixedZone("x", 3600))
	require.Equal(t, "?expires_at=2030-01-02T14%3A04%3A05Z", PutOptions{ExpiresAt: at}.query())
}
