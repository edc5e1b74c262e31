package main

import "github.com/callscreen/callscreen/screen"

// promptCache is the server's memory of which PBXes have the sounds a
// challenge needs. Made once and handed to every flow buildFlow makes, it
// outlives reloads: a reload does not ask every PBX again.
func (s *server) promptCache() *screen.Prompts {
	s.promptsOnce.Do(func() {
		s.prompts = &screen.Prompts{Logger: s.log, Metrics: s.flowMetrics}
	})
	return s.prompts
}

// readyNotes is what /readyz shows after "ready": every PBX found missing
// prompts, whose challenges fail open.
func (s *server) readyNotes() []string { return s.promptCache().Report() }
