package domain

import (
	"bytes"
	"testing"
)

func TestLinkBeforePicksGenesisKnownOrBoundary(t *testing.T) {
	known := bytes.Repeat([]byte{7}, LinkSize)
	if got := LinkBefore("", known); !bytes.Equal(got, GenesisLink) {
		t.Fatalf("an entry starting its chain links from GenesisLink, got %x", got)
	}
	if got := LinkBefore("h1", known); !bytes.Equal(got, known) {
		t.Fatalf("a known predecessor's link is used, got %x", got)
	}
	if got := LinkBefore("h1", nil); !bytes.Equal(got, BoundaryLink("h1")) {
		t.Fatalf("an unknown predecessor's link is the boundary link, got %x", got)
	}
	if bytes.Equal(BoundaryLink("h1"), BoundaryLink("h2")) {
		t.Fatal("boundary links depend on the predecessor's hash")
	}
}
