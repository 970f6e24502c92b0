package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/entgldb/entgldb-go/domain"
)

// A snapshot's change (Seq 0) has no id line, so an EventSource keeps the
// last real id as its Last-Event-ID; oplog changes keep theirs.
func TestEventFrameSnapshotChangeHasNoID(t *testing.T) {
	stamp := domain.Timestamp{Wall: 7, Node: "n2"}
	got := string(eventFrame(domain.Change{Collection: "c", Key: "k", Op: domain.OpPut, Data: []byte(`{"a":1}`), Stamp: stamp, Remote: true}))
	assert.Equal(t, `data: {"seq":0,"collection":"c","key":"k","op":"put","version":"7:0:n2","data":{"a":1},"remote":true}`+"\n\n", got)

	got = string(eventFrame(domain.Change{Seq: 9, Collection: "c", Key: "k", Op: domain.OpDelete, Stamp: stamp}))
	assert.Equal(t, `id: 9`+"\n"+`data: {"seq":9,"collection":"c","key":"k","op":"delete","version":"7:0:n2","data":null,"remote":false}`+"\n\n", got)
}
