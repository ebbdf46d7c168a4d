// A first-in first-out queue in one circular buffer that only grows: once it
// has held as many items as a connection keeps queued, pushing and popping
// allocate nothing (DESIGN.md rule 2). std::deque, which it replaces for a
// connection's frames to send and READs awaiting their answers, allocates a
// block every few items pushed and frees one every few popped: a malloc
// uprobe counted 0.25 per 4 KiB transfer on each side and 0.05 more on the
// caller (bench/cli/results/2026-12-busy-poll-7/).
//
// Growing moves the items: a reference or pointer to an item holds only
// until the next push. Positions (operator[], counted from the front) hold
// until the next pop.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace nixl::tcp {

template <typename T>
class Ring {
 public:
  template <typename R, typename V>
  class Iter {
   public:
    Iter(R* ring, size_t pos) : ring_(ring), pos_(pos) {}
    V& operator*() const { return (*ring_)[pos_]; }
    V* operator->() const { return &(*ring_)[pos_]; }
    Iter& operator++() {
      pos_++;
      return *this;
    }
    bool operator!=(const Iter& o) const { return pos_ != o.pos_; }
    bool operator==(const Iter& o) const { return pos_ == o.pos_; }

   private:
    R* ring_;
    size_t pos_;
  };
  using iterator = Iter<Ring, T>;
  using const_iterator = Iter<const Ring, const T>;

  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    while (count_ > 0) pop_front();
    std::allocator<T>().deallocate(items_, cap_);
  }

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }

  T& operator[](size_t i) { return items_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return items_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[count_ - 1]; }
  const T& back() const { return (*this)[count_ - 1]; }

  // A fresh item (value-initialized) at the back.
  T& emplace_back() {
    if (count_ == cap_) Grow();
    T* t = std::construct_at(&items_[(head_ + count_) & (cap_ - 1)]);
    count_++;
    return *t;
  }
  void push_back(const T& v) { emplace_back() = v; }

  // The front item is destroyed (its owned payload freed) as std::deque's
  // pop_front does; only its slot stays, for a later push.
  void pop_front() {
    std::destroy_at(&items_[head_]);
    head_ = (head_ + 1) & (cap_ - 1);
    count_--;
  }

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, count_); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, count_); }

 private:
  static constexpr size_t kFirstCapacity = 8;

  // Doubles the capacity (a power of two, so a position is masked, not
  // divided), moving the items to the start of new slots, in order.
  void Grow() {
    const size_t cap = cap_ == 0 ? kFirstCapacity : cap_ * 2;
    T* items = std::allocator<T>().allocate(cap);
    for (size_t i = 0; i < count_; i++) {
      T& from = (*this)[i];
      std::construct_at(&items[i], std::move(from));
      std::destroy_at(&from);
    }
    std::allocator<T>().deallocate(items_, cap_);
    items_ = items;
    cap_ = cap;
    head_ = 0;
  }

  T* items_ = nullptr;  // cap_ slots; count_ of them, from head_ on, hold items
  size_t cap_ = 0;      // 0 or a power of two
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace nixl::tcp
