package agi

import (
	"container/list"
	"sync"
)

// waiting is one connection in the pre-block stage: its places in the
// arrival-ordered list of every waiting connection and of its peer's.
type waiting struct {
	all, mine *list.Element
}

// pendingSet holds the connections still reading their environment block,
// oldest first, overall and per peer, so the oldest can be closed when a
// cap is reached.
type pendingSet struct {
	mu     sync.Mutex
	all    list.List // of *conn
	byPeer map[string]*list.List
}

// add enters cn and returns the connections to close to stay within max
// overall and perPeer per peer (already removed from the set; never cn).
func (p *pendingSet) add(cn *conn, max, perPeer int) (evicted []*conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byPeer == nil {
		p.byPeer = make(map[string]*list.List)
		p.all.Init()
	}
	mine := p.byPeer[cn.peer]
	if mine == nil {
		mine = list.New()
		p.byPeer[cn.peer] = mine
	}
	for mine.Len() >= perPeer && mine.Len() > 0 {
		evicted = append(evicted, p.removeLocked(mine.Front().Value.(*conn)))
	}
	for p.all.Len() >= max && p.all.Len() > 0 {
		evicted = append(evicted, p.removeLocked(p.all.Front().Value.(*conn)))
	}
	if mine.Len() == 0 { // it may have been emptied by the overall cap
		p.byPeer[cn.peer] = mine
	}
	cn.wait = &waiting{all: p.all.PushBack(cn), mine: mine.PushBack(cn)}
	return evicted
}

// remove takes cn out of the set; false when it was no longer in it (it
// was evicted).
func (p *pendingSet) remove(cn *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cn.wait == nil {
		return false
	}
	p.removeLocked(cn)
	return true
}

func (p *pendingSet) removeLocked(cn *conn) *conn {
	w := cn.wait
	cn.wait = nil
	p.all.Remove(w.all)
	if mine := p.byPeer[cn.peer]; mine != nil {
		mine.Remove(w.mine)
		if mine.Len() == 0 {
			delete(p.byPeer, cn.peer)
		}
	}
	return cn
}

// len returns how many connections are waiting (for tests and metrics).
func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.Len()
}
