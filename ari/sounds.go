package ari

import (
	"context"
	"fmt"
	"net/http"
)

// Sound is a sound file Asterisk has, as GET /sounds/{soundId} describes
// it: its name and every language and format it exists in.
type Sound struct {
	ID      string        `json:"id"`
	Text    string        `json:"text,omitempty"`
	Formats []SoundFormat `json:"formats"`
}

// SoundFormat is one language and format a sound exists in.
type SoundFormat struct {
	Language string `json:"language"`
	Format   string `json:"format"`
}

// Sound looks a sound up in Asterisk's sound index (GET /sounds/{soundId};
// res/ari/resource_sounds.c, ast_ari_sounds_get, which indexes the files
// on disk at that moment). A name with '/' ("callscreen/digits/4") travels
// as one escaped path segment: res/res_ari.c splits the path before it
// decodes each segment. A sound Asterisk does not have is ErrNotFound.
func (c *Client) Sound(ctx context.Context, id string) (Sound, error) {
	op := "ari get sound " + id
	if err := checkName("sound id", id); err != nil {
		return Sound{}, fmt.Errorf("%s: %w", op, err)
	}
	var s Sound
	err := c.do(ctx, op, http.MethodGet, nil, nil, &s, "sounds", id)
	return s, err
}

// Sound looks a sound up on the call's Asterisk server; see Client.Sound.
func (c *Call) Sound(ctx context.Context, id string) (Sound, error) {
	return c.client.Sound(ctx, id)
}

// Server names the Asterisk server the call is on (Client.Server).
func (c *Call) Server() string { return c.client.Server() }
