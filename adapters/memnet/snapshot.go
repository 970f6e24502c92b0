package memnet

import "context"

// GetSnapshot asks the host for its snapshot: the chunks its handler emits,
// joined.
func (s *Session) GetSnapshot(ctx context.Context) ([]byte, error) {
	const op = "memnet.GetSnapshot"
	peer, err := s.begin(ctx, op, reqSnapshot)
	if err != nil {
		return nil, err
	}
	defer s.host.leave()
	var data []byte
	err = s.host.handler.GetSnapshot(ctx, peer, func(chunk []byte, _ bool) error {
		data = append(data, chunk...)
		return nil
	})
	if err := s.end(ctx, op, err); err != nil {
		return nil, err
	}
	return data, nil
}
