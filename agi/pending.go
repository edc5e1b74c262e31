package agi

import (
	"net"
	"net/netip"
	"sync"
)

// pendingSet holds the connections still reading their environment block,
// oldest first, overall and per peer, so the oldest can be closed when a
// cap is reached. The lists are intrusive (links in conn): entering and
// leaving the stage allocates nothing but, for a peer's first waiting
// connection, its list head.
type pendingSet struct {
	mu     sync.Mutex
	all    pendingList
	byPeer map[netip.Addr]*pendingList
	spare  *pendingList // a peer's emptied head, reused by the next peer
}

// pendingList is a doubly linked list of waiting connections.
type pendingList struct {
	head, tail *conn
	n          int
}

// pendingLinks are a waiting connection's places in both lists.
type pendingLinks struct {
	waiting            bool
	prevAll, nextAll   *conn
	prevPeer, nextPeer *conn
	peerList           *pendingList
}

// peerKey is the map key of a remote address: its IP, the zero Addr for
// a connection without one (net.Pipe).
func peerKey(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// add enters cn and returns the connections to close to stay within max
// overall and perPeer per peer (already removed from the set; never cn).
func (p *pendingSet) add(cn *conn, max, perPeer int) (evicted []*conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byPeer == nil {
		p.byPeer = make(map[netip.Addr]*pendingList)
	}
	if l := p.byPeer[cn.peer]; l != nil {
		for l.n >= perPeer && l.n > 0 {
			evicted = append(evicted, p.removeLocked(l.head))
		}
	}
	for p.all.n >= max && p.all.n > 0 {
		evicted = append(evicted, p.removeLocked(p.all.head))
	}
	mine := p.byPeer[cn.peer]
	if mine == nil {
		mine, p.spare = p.spare, nil
		if mine == nil {
			mine = new(pendingList)
		}
		p.byPeer[cn.peer] = mine
	}
	w := &cn.links
	*w = pendingLinks{waiting: true, peerList: mine, prevAll: p.all.tail, prevPeer: mine.tail}
	if p.all.tail != nil {
		p.all.tail.links.nextAll = cn
	} else {
		p.all.head = cn
	}
	p.all.tail = cn
	p.all.n++
	if mine.tail != nil {
		mine.tail.links.nextPeer = cn
	} else {
		mine.head = cn
	}
	mine.tail = cn
	mine.n++
	return evicted
}

// remove takes cn out of the set; false when it was no longer in it (it
// was evicted).
func (p *pendingSet) remove(cn *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !cn.links.waiting {
		return false
	}
	p.removeLocked(cn)
	return true
}

func (p *pendingSet) removeLocked(cn *conn) *conn {
	w := &cn.links
	if w.prevAll != nil {
		w.prevAll.links.nextAll = w.nextAll
	} else {
		p.all.head = w.nextAll
	}
	if w.nextAll != nil {
		w.nextAll.links.prevAll = w.prevAll
	} else {
		p.all.tail = w.prevAll
	}
	p.all.n--
	l := w.peerList
	if w.prevPeer != nil {
		w.prevPeer.links.nextPeer = w.nextPeer
	} else {
		l.head = w.nextPeer
	}
	if w.nextPeer != nil {
		w.nextPeer.links.prevPeer = w.prevPeer
	} else {
		l.tail = w.prevPeer
	}
	if l.n--; l.n == 0 {
		delete(p.byPeer, cn.peer)
		*l = pendingList{}
		p.spare = l
	}
	*w = pendingLinks{}
	return cn
}

// len returns how many connections are waiting.
func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.n
}
