package main

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyModelAckSettlesAndUnknownAddsCandidates(t *testing.T) {
	k := newKeyModel("c", "k")
	assert.True(t, k.certain())
	assert.True(t, k.matches(false, nil, ""), "a new key is absent")
	assert.False(t, k.matches(true, []byte(`{"a":1}`), "v1"))

	k.ack(state{present: true, data: []byte(`{"a":1,"b":2}`), version: "v1"})
	assert.True(t, k.matches(true, []byte(`{"b":2,"a":1}`), "v1"), "same JSON, other key order")
	assert.False(t, k.matches(true, []byte(`{"a":1,"b":2}`), "v0"), "an acknowledged version must match")
	assert.False(t, k.matches(false, nil, ""), "acknowledged put: absent is a loss")

	k.maybe(state{}) // a delete whose outcome is unknown
	assert.False(t, k.certain())
	assert.True(t, k.matches(false, nil, ""))
	assert.True(t, k.matches(true, []byte(`{"a":1,"b":2}`), "v1"))
	assert.False(t, k.matches(true, []byte(`{"a":9}`), "v9"), "a value never written is not a candidate")

	k.ack(state{})
	assert.True(t, k.certain())
	assert.False(t, k.matches(true, []byte(`{"a":1,"b":2}`), "v1"), "after an acknowledged delete the old value is a resurrection")
	assert.Equal(t, 2, k.ackedWrites)
}

func TestKeyModelUnknownVersionComparesDataOnly(t *testing.T) {
	k := newKeyModel("c", "k")
	k.maybe(state{present: true, data: []byte(`{"x":1}`)})
	assert.True(t, k.matches(true, []byte(`{"x":1}`), "whatever-version"))
	for i := 0; i < 100; i++ {
		k.maybe(state{present: true, data: []byte(fmt.Sprintf(`{"x":%d}`, i))})
	}
	assert.LessOrEqual(t, len(k.candidates), 64, "candidates stay bounded")
}

func TestClassify(t *testing.T) {
	assert.Equal(t, acked, classify(http.StatusOK, nil))
	assert.Equal(t, rejected, classify(http.StatusNotFound, nil))
	assert.Equal(t, rejected, classify(http.StatusPreconditionFailed, nil))
	assert.Equal(t, unknown, classify(http.StatusInternalServerError, nil))
	assert.Equal(t, unknown, classify(http.StatusServiceUnavailable, nil))
	assert.Equal(t, rejected, classify(0, fmt.Errorf("dial: %w", syscall.ECONNREFUSED)), "refused: never reached the node")
	assert.Equal(t, unknown, classify(0, errors.New("connection reset by peer")))
}
