// node_modules/preact/dist/preact.mjs
var n;
var t;
var r;
var u;
var i;
var f;
var o;
var e;
var l;
var c;
var a;
var s;
var h = Symbol.for("pv");
var p = {};
var y = [];
var v = /^m(i|n|o|s|text|space)$/;
var w = Array.isArray;
var d = y.slice;
var _ = Object.assign;
function g(n2) {
  n2 && n2.parentNode && n2.remove();
}
function m(r3, u4, i3, f4, o4) {
  var e3 = {
    type: r3,
    props: u4,
    key: i3,
    ref: f4,
    __k: null,
    __: null,
    __b: 0,
    __e: null,
    __c: null,
    constructor: h,
    __v: o4 || ++t,
    __i: -1,
    __u: 0
  };
  return !o4 && n.vnode && n.vnode(e3), e3;
}
function $(n2) {
  return n2.children;
}
function x(n2, t3) {
  this.props = n2, this.context = t3, this.__g = 0;
}
function S(n2, t3) {
  if (null == t3) return n2.__ && S(n2.__, n2.__i + 1);
  for (var r3; t3 < n2.__k.length; t3++) if ((r3 = n2.__k[t3]) && r3.__e) return r3.__e;
  return "function" != typeof n2.type || n2.props.__P ? null : S(n2);
}
function C(t3) {
  var r3, u4 = t3.__v, i3 = u4.__e, f4 = [], o4 = [], e3 = t3.__P;
  e3 && ((r3 = _({
    constructor: h
  }, u4)).__v = u4.__v + 1, n.vnode && n.vnode(r3), z(e3, r3, u4, t3.__n, e3.namespaceURI, 32 & u4.__u ? [
    i3
  ] : null, f4, i3 || S(u4), 32 & u4.__u, o4), r3.__v = u4.__v, r3.__.__k[r3.__i] = r3, E(f4, r3, o4), u4.__ = u4.__e = null, r3.__e != i3 && j(r3));
}
function j(n2) {
  if ((n2 = n2.__) && n2.__c && !n2.props.__P) return n2.__e = null, n2.__k.some(function(t3) {
    return t3 && (n2.__e = t3.__e);
  }), j(n2);
}
function L(t3) {
  (8 & t3.__g || (t3.__g |= 8, u.push(t3), f++)) && i == n.debounceRendering || ((i = n.debounceRendering) || queueMicrotask)(H);
}
function H() {
  try {
    for (var n2, t3 = 1; u.length; ) u.length > t3 && u.sort(o), n2 = u.shift(), t3 = u.length, 8 & n2.__g && C(n2);
  } finally {
    (f = u.length) && (i || queueMicrotask)(H);
  }
}
function I(n2, t3, r3, u4, i3, f4, o4, e3, l3, c3, a4) {
  var s3, h3, v3, w2, d3, _3, g3 = u4.__k || y, k2 = t3.length;
  for (l3 = q(r3, t3, g3, l3, k2), s3 = 0; s3 < k2; s3++) null != (v3 = r3.__k[s3]) && (h3 = ~v3.__i && g3[v3.__i] || p, v3.__i = s3, _3 = z(n2, v3, h3, i3, f4, o4, e3, l3, c3, a4), w2 = v3.__e, (h3.ref != v3.ref || 8 & h3.__u) && (h3.ref && G(h3.ref, null, v3, h3), v3.ref && a4.push(v3.ref, v3.__c || w2, v3)), d3 = d3 || w2, 4 & v3.__u ? (l3 = A(v3, l3, n2, !h3.__v), h3.__e && (h3.__e = null)) : "function" == typeof v3.type && void 0 !== _3 ? l3 = _3 : w2 && (l3 = w2.nextSibling), v3.__u &= -21);
  return r3.__e = d3, l3;
}
function q(n2, t3, r3, u4, i3) {
  var f4, o4, e3, l3, c3, a4, s3, p3, y3, v3 = r3.length, d3 = v3, _3 = 0, g3 = 0, k2 = n2.__k = Array(i3);
  for (f4 = 0; f4 < i3; f4++) null != (o4 = t3[f4]) && "boolean" != typeof o4 && "function" != typeof o4 ? ("object" != typeof o4 || o4.constructor === String ? o4 = k2[f4] = m(null, o4) : w(o4) ? o4 = k2[f4] = m($, {
    children: o4
  }) : o4.constructor === h && o4.__b ? o4 = k2[f4] = m(o4.type, o4.props, o4.key, o4.ref, o4.__v) : k2[f4] = o4, l3 = f4 + _3, o4.__ = n2, o4.__b = n2.__b + 1, e3 = null, ~(c3 = o4.__i = P(o4, r3, l3, d3)) && (d3--, (e3 = r3[c3]) && (e3.__u |= 2)), e3 && e3.__v ? (o4.__u |= 16, c3 == l3 - 1 ? _3-- : c3 == l3 + 1 ? _3++ : c3 != l3 && (c3 > l3 ? _3-- : _3++, g3 = 1)) : (~c3 || (i3 > v3 ? _3-- : i3 < v3 && _3++), "function" != typeof o4.type && (o4.__u |= 4))) : k2[f4] = null;
  if (g3) {
    for (a4 = [], s3 = [], f4 = 0; f4 < i3; f4++) if ((o4 = k2[f4]) && 16 & o4.__u) {
      for (_3 = 0, p3 = a4.length; _3 < p3; ) a4[y3 = _3 + p3 >> 1] < o4.__i ? _3 = y3 + 1 : p3 = y3;
      a4[_3] = o4.__i, s3[f4] = _3 + 1;
    }
    for (_3 = a4.length; f4--; ) s3[f4] && (s3[f4] == _3 ? _3-- : k2[f4].__u |= 4);
  }
  if (d3) for (f4 = 0; f4 < v3; f4++) !(e3 = r3[f4]) || 2 & e3.__u || (e3.__e == u4 && (u4 = S(e3)), J(e3, e3));
  return u4;
}
function A(n2, t3, r3, u4) {
  var i3, f4, o4, e3;
  if ("function" == typeof n2.type) {
    if (n2.props.__P) return t3;
    if (i3 = n2.__k) for (f4 = 0; f4 < i3.length; f4++) i3[f4] && (i3[f4].__ = n2, t3 = A(i3[f4], t3, r3, false));
    return t3;
  }
  for (t3 && !t3.parentNode && (t3 = S(n2)) && !t3.parentNode && (t3 = null), o4 = n2.__e, e3 = t3; e3 && 8 == e3.nodeType; ) e3 = e3.nextSibling;
  for (o4 != e3 && (!u4 && r3.moveBefore && o4.parentNode ? r3.moveBefore(o4, t3) : r3.insertBefore(o4, t3 || null)), t3 = o4; (t3 = t3 && t3.nextSibling) && 8 == t3.nodeType && !t3.data.startsWith("$s"); ) ;
  return t3;
}
function P(n2, t3, r3, u4) {
  var i3, f4 = n2.key, o4 = n2.type, e3 = t3[r3], l3 = e3 && !(2 & e3.__u);
  if (null === e3 && null == f4 || l3 && f4 == e3.key && o4 == e3.type) return r3;
  if (u4 > (l3 ? 1 : 0)) {
    for (i3 = r3 - 1; i3 >= 0; i3--) if ((e3 = t3[i3]) && !(2 & e3.__u) && f4 == e3.key && o4 == e3.type) return i3;
    for (i3 = r3 + 1; i3 < t3.length; i3++) if ((e3 = t3[i3]) && !(2 & e3.__u) && f4 == e3.key && o4 == e3.type) return i3;
  }
  return -1;
}
function T(n2, t3, r3) {
  null == r3 && (r3 = ""), "-" == t3[0] ? n2.setProperty(t3, r3) : n2[t3] = r3;
}
function N(n2, t3, r3, u4, i3) {
  var f4, o4;
  if ("style" == t3) if ("string" == typeof r3) n2.style.cssText = r3;
  else {
    if ("string" == typeof u4 && (n2.style.cssText = u4 = ""), u4) for (t3 in u4) r3 && t3 in r3 || T(n2.style, t3);
    if (r3) for (t3 in r3) u4 && r3[t3] == u4[t3] || T(n2.style, t3, r3[t3]);
  }
  else if ("o" == t3[0] && "n" == t3[1]) "function" != typeof r3 && (r3 = null), "function" != typeof u4 && (u4 = null), (n2.__e || (n2.__e = {}))[t3] = r3, r3 && u4 || (o4 = a[t3] || (a[t3] = V(t3)), (n2.__a || (n2.__a = {}))[t3] = c, f4 = t3 != (t3 = t3.replace(l, "$1")), (t3 = t3.slice(2))[0] < "a" && (t3 = t3.toLowerCase()), r3 ? n2.addEventListener(t3, o4, f4) : n2.removeEventListener(t3, o4, f4));
  else {
    if ("http://www.w3.org/2000/svg" == i3) t3 = t3.replace(/xlink(H|:h)/, "h").replace(/sName$/, "s");
    else if ("width" != t3 && "height" != t3 && "href" != t3 && "list" != t3 && "form" != t3 && "tabIndex" != t3 && "download" != t3 && "rowSpan" != t3 && "colSpan" != t3 && "role" != t3 && "popover" != t3 && t3 in n2) try {
      return void (n2[t3] = null == r3 ? "" : r3);
    } catch (n3) {
    }
    if ("function" == typeof r3) return;
    null == r3 || false === r3 && "-" != t3[4] ? n2.removeAttribute(t3) : n2.setAttribute(t3, "popover" == t3 && 1 == r3 ? "" : r3);
  }
}
function V(t3) {
  return function(r3) {
    var u4 = this.__e;
    if (u4) {
      if (u4 = u4[t3], null == r3[e]) r3[e] = c++;
      else if (r3[e] < this.__a[t3]) return;
      return u4(n.event ? n.event(r3) : r3);
    }
  };
}
function z(t3, r3, u4, i3, f4, o4, e3, l3, c3, a4) {
  var s3, p3, v3, d3, k2, b, m3, M, C3, j2, L2, H2, q2, A3, O, P2, T2, N2, V2 = r3.type;
  if (r3.constructor !== h) return null;
  128 & u4.__u && (c3 = 32 & u4.__u, s3 = u4.__c.__z) && (r3.__u |= c3, p3 = o4 = [], 8 == s3.nodeType ? l3 = B(s3, o4) : o4.push(s3), l3 = o4[0] || l3), (s3 = n.__b) && s3(r3);
  n: if ("function" == typeof V2) {
    v3 = e3.length;
    try {
      if (M = r3.props, C3 = (s3 = V2.prototype) && s3.render, j2 = (s3 = V2.contextType) && i3[s3.__c], L2 = s3 ? j2 ? j2.props.value : s3.__ : i3, (d3 = u4.__c) ? (r3.__c = d3, 2 & d3.__g && (d3.__g |= 1)) : (C3 ? r3.__c = d3 = new V2(M, L2) : (r3.__c = d3 = new x(M, L2), d3.constructor = V2, d3.render = K), j2 && j2.sub(d3), d3.state || (d3.state = {}), d3.__n = i3, d3.__g |= 8, d3.__h = [], d3.__k = []), C3 && (d3.__s || (d3.__s = d3.state), V2.getDerivedStateFromProps && (d3.__s == d3.state && (d3.__s = _({}, d3.__s)), _(d3.__s, V2.getDerivedStateFromProps(M, d3.__s)))), k2 = d3.props, b = d3.state, d3.__v = r3, u4.__c) {
        if (M !== k2 && C3 && !V2.getDerivedStateFromProps && d3.componentWillReceiveProps && d3.componentWillReceiveProps(M, L2), r3.__v == u4.__v && !(8 & d3.__g) || !(4 & d3.__g) && d3.shouldComponentUpdate && false === d3.shouldComponentUpdate(M, d3.__s, L2)) {
          r3.__v != u4.__v && (d3.props = M, d3.state = d3.__s, d3.__g &= -9), r3.__e = u4.__e, r3.__k = u4.__k, r3.__k.some(function(n2) {
            n2 && (n2.__ = r3);
          }), y.push.apply(d3.__h, d3.__k), d3.__k = [], d3.__h.length && e3.push(d3), l3 = S(u4);
          break n;
        }
        d3.componentWillUpdate && d3.componentWillUpdate(M, d3.__s, L2), C3 && d3.componentDidUpdate && d3.__h.push(function() {
          d3.componentDidUpdate(k2, b, m3);
        });
      } else C3 && !V2.getDerivedStateFromProps && d3.componentWillMount && d3.componentWillMount(), C3 && d3.componentDidMount && d3.__h.push(d3.componentDidMount);
      d3.context = L2, d3.props = M, d3.__P = t3, d3.__g &= -5, H2 = n.__r, q2 = C3 ? 25 : 0;
      do {
        d3.__g &= -9, H2 && H2(r3), s3 = d3.render(d3.props, d3.state = d3.__s, d3.context);
      } while (8 & d3.__g && ++q2 < 25);
      C3 && (y.push.apply(d3.__h, d3.__k), d3.__k = []), d3.state = d3.__s, d3.getChildContext && (i3 = _({}, i3, d3.getChildContext())), C3 && u4.__c && d3.getSnapshotBeforeUpdate && (m3 = d3.getSnapshotBeforeUpdate(k2, b)), A3 = s3 && s3.type === $ && null == s3.key ? s3.props.children : s3, M.__P && (s3 = l3, f4 = (t3 = M.__P).namespaceURI, c3 = o4 = null, u4.props && u4.props.__P != t3 && (u4.__k.some(function(n2) {
        n2 && J(n2, n2);
      }), u4.__k = null), l3 = u4.__k ? S(u4, 0) : null), l3 = I(t3, w(A3) ? A3 : [
        A3
      ], r3, u4, i3, f4, o4, e3, l3, c3, a4), M.__P && (r3.__e = null, l3 = s3), r3.__u &= -161, p3 && p3.some(g), d3.__h.length && e3.push(d3), 1 & d3.__g && (d3.__g &= -4);
    } catch (t4) {
      if (e3.length = v3, r3.__v = null, c3 || o4) if (t4 && t4.then) {
        if (r3.__u |= 128 | c3, o4) {
          for (~(T2 = o4.indexOf(l3 || void 0)) || (T2 = o4.length); (N2 = o4[T2 - 1]) && 8 == N2.nodeType; ) T2--;
          for (; T2 < o4.length; T2++) if (N2 = o4[T2]) if (o4[T2] = null, O) {
            if (N2 == P2) break;
          } else {
            if (8 != N2.nodeType) break;
            N2.data.startsWith("$s") && (P2 = B(O = N2));
          }
        }
        if (!O) {
          for (; l3 && 8 == l3.nodeType && l3.nextSibling; ) l3 = l3.nextSibling;
          O = l3;
        }
        (s3 = B(O = r3.__c.__z || (r3.__c.__z = O))) ? (r3.__e = O, l3 = s3) : r3.__e = l3, l3 = l3 && l3.nextSibling;
      } else o4 && o4.some(g);
      else r3.__e = u4.__e;
      r3.__k || (r3.__k = u4.__k || []), t4 && t4.then || D(r3), n.__e(t4, r3, u4);
    }
  } else l3 = r3.__e = F(u4.__e, r3, u4, i3, f4, o4, e3, c3, a4, t3);
  return (s3 = n.diffed) && s3(r3), l3;
}
function B(n2, t3) {
  if (n2 && 8 == n2.nodeType && n2.data.startsWith("$s")) for (var r3 = 1; n2 = n2.nextSibling; ) {
    if (8 == n2.nodeType) {
      if (n2.data.startsWith("$s")) r3++;
      else if (n2.data.startsWith("/$s") && !--r3) return n2;
    }
    t3 && t3.push(n2);
  }
}
function D(n2) {
  n2 && (n2.__c && (n2.__c.__g |= 4), n2.__k && n2.__k.some(D));
}
function E(t3, r3, u4) {
  for (var i3 = 0; i3 < u4.length; ) G(u4[i3++], u4[i3++], u4[i3++]);
  n.__c && n.__c(r3, t3), t3.some(function(r4) {
    try {
      t3 = r4.__h, r4.__h = [], t3.some(function(n2) {
        n2.call(r4);
      });
    } catch (t4) {
      n.__e(t4, r4.__v);
    }
  });
}
function F(t3, r3, u4, i3, f4, o4, e3, l3, c3, a4) {
  var s3, h3, y3, _3, k2, b, m3, M, $2 = u4.props || p, x2 = r3.props, C3 = r3.type;
  if ("svg" == C3 ? f4 = "http://www.w3.org/2000/svg" : "math" == C3 ? f4 = "http://www.w3.org/1998/Math/MathML" : f4 || (f4 = "http://www.w3.org/1999/xhtml"), o4) {
    for (s3 = 0; s3 < o4.length; s3++) if ((k2 = o4[s3]) && (C3 ? k2.localName == C3 : 3 == k2.nodeType)) {
      t3 = k2, o4[s3] = null;
      break;
    }
  }
  if (!t3) {
    if (M = a4.ownerDocument || document, !C3) return M.createTextNode(x2);
    t3 = M.createElementNS(f4, C3, x2.is ? x2 : a4), l3 && (n.__m && n.__m(r3, o4), l3 = false), o4 = null;
  }
  if (C3) {
    if (a4 = "template" == C3 && t3.content || t3, o4 = "textarea" == C3 && null != x2.defaultValue ? null : o4 && d.call(a4.childNodes), !l3 && o4) for ($2 = {}, s3 = 0; s3 < t3.attributes.length; s3++) $2[(k2 = t3.attributes[s3]).name] = k2.value;
    for (s3 in $2) k2 = $2[s3], "dangerouslySetInnerHTML" == s3 ? y3 = k2 : "children" == s3 || s3 in x2 || "value" == s3 && "defaultValue" in x2 || "checked" == s3 && "defaultChecked" in x2 || N(t3, s3, null, k2, f4);
    for (s3 in x2) k2 = x2[s3], "children" == s3 ? _3 = k2 : "dangerouslySetInnerHTML" == s3 ? h3 = k2 : "value" == s3 ? b = k2 : "checked" == s3 ? m3 = k2 : l3 && "function" != typeof k2 || $2[s3] === k2 || N(t3, s3, k2, $2[s3], f4);
    h3 ? (l3 || y3 && (h3.__html == y3.__html || h3.__html == t3.innerHTML) || (t3.innerHTML = h3.__html), r3.__k = []) : (y3 && (t3.textContent = ""), ("foreignObject" == C3 || "http://www.w3.org/1998/Math/MathML" == f4 && v.test(C3)) && (f4 = "http://www.w3.org/1999/xhtml"), I(a4, w(_3) ? _3 : [
      _3
    ], r3, u4, i3, f4, o4, e3, o4 ? o4[0] : u4.__k && S(u4, 0), l3, c3), o4 && o4.some(g)), l3 && "textarea" != C3 || (s3 = "value", "progress" == C3 && null == b ? t3.removeAttribute(s3) : null == b || b === t3[s3] && ("progress" != C3 || b) || N(t3, s3, b, $2[s3], f4), s3 = "checked", null != m3 && m3 != t3[s3] && N(t3, s3, m3, $2[s3], f4));
  } else $2 === x2 || l3 && t3.data == x2 || (t3.data = x2);
  return t3;
}
function G(t3, r3, u4, i3) {
  try {
    "function" == typeof t3 ? r3 ? r3.__x = t3(r3) || 1 : i3 && (i3 = i3.__c || i3.__e) && (r3 = i3.__x) && (i3.__x = null, "function" == typeof r3 ? r3() : t3(null)) : t3.current = r3;
  } catch (t4) {
    n.__e(t4, u4);
  }
}
function J(t3, r3, u4) {
  var i3, f4, o4, e3;
  if (n.unmount && n.unmount(t3), !(i3 = t3.ref) || i3.current && i3.current != t3.__e || G(i3, null, r3, t3), i3 = t3.__c) {
    if (i3.componentWillUnmount) try {
      i3.componentWillUnmount();
    } catch (t4) {
      n.__e(t4, r3);
    }
    i3.__P = i3.__n = null;
  }
  if (i3 = t3.__k) for (e3 = 0; e3 < i3.length; e3++) i3[e3] && J(i3[e3], r3, "function" != typeof t3.type || u4 && !t3.props.__P);
  !u4 && (i3 = t3.__c) && (i3 = i3.__z) && (f4 = B(i3, o4 = [])) && (i3 == t3.__e && o4.some(g), g(f4), g(i3)), u4 || g(t3.__e), t3.__e = t3.__c = t3.__ = null;
}
function K(n2, t3, r3) {
  return this.constructor(n2, r3);
}
function Q(t3, r3) {
  var u4, i3, f4, o4;
  n.__ && n.__(t3, r3), 9 == r3.nodeType && (r3 = r3.documentElement), i3 = (u4 = t3 && 32 & t3.__u) ? null : r3.__k, r3.__k = m($, {
    children: [
      t3
    ]
  }), f4 = [], o4 = [], z(r3, r3.__k, i3 || p, p, r3.namespaceURI, i3 ? null : r3.firstChild ? d.call(r3.childNodes) : null, f4, i3 ? i3.__e : r3.firstChild, u4, o4), E(f4, r3.__k, o4), r3.__k.props.children = null;
}
n = {
  __e: function(n2, t3, r3, u4) {
    for (var i3, o4, e3; t3 = t3.__; ) if ((i3 = t3.__c) && !(1 & i3.__g)) {
      i3.__g |= 4;
      try {
        if ((e3 = (o4 = i3.constructor) && o4.getDerivedStateFromError) && i3.setState(o4.getDerivedStateFromError(n2)), i3.componentDidCatch && (i3.componentDidCatch(n2, u4 || {}), e3 = 1), e3 && 8 & i3.__g) return void (i3.__g |= 2);
      } catch (t4) {
        n2 = t4;
      }
    }
    throw f = 0, n2;
  }
}, t = 0, r = function(n2) {
  return null != n2 && n2.constructor === h;
}, x.prototype.setState = function(n2, t3) {
  var r3 = this.__s;
  r3 && r3 != this.state || (r3 = this.__s = _({}, this.state)), "function" == typeof n2 && (n2 = n2(_({}, r3), this.props)), n2 && (_(r3, n2), this.__v && (t3 && this.__k.push(t3), L(this)));
}, x.prototype.forceUpdate = function(n2) {
  this.__v && (this.__g |= 4, n2 && this.__h.push(n2), L(this));
}, x.prototype.render = $, u = [], f = 0, o = function(n2, t3) {
  return n2.__v.__b - t3.__v.__b;
}, e = Symbol(), l = /(PointerCapture)$|Capture$/i, c = 0, a = {}, s = 0;

// node_modules/preact/jsx-runtime/dist/jsxRuntime.mjs
var f2 = Symbol.for("pv");
var o2 = 0;
var u2 = Array.isArray;
function a2(t3, e3, n2, u4, a4, i3) {
  e3 || (e3 = {});
  var c3, l3, p3 = e3;
  if ("ref" in p3 && "function" != typeof t3) for (l3 in p3 = {}, e3) "ref" == l3 ? c3 = e3[l3] : p3[l3] = e3[l3];
  var s3 = {
    type: t3,
    props: p3,
    key: n2,
    ref: c3,
    __k: null,
    __: null,
    __b: 0,
    __e: null,
    __c: null,
    constructor: f2,
    __v: --o2,
    __i: -1,
    __u: 0
  };
  return (a4 || i3) && (s3.__source = a4, s3.__self = i3), n.vnode && n.vnode(s3), s3;
}

// node_modules/preact/hooks/dist/hooks.mjs
var t2;
var r2;
var u3;
var i2;
var o3 = Object.is;
var f3 = 0;
var c2 = [];
var e2 = [];
var a3 = n;
var v2 = a3.__b;
var l2 = a3.__r;
var m2 = a3.diffed;
var h2 = a3.__c;
var s2 = a3.unmount;
var p2 = a3.__;
function y2(n2, t3) {
  a3.__h && a3.__h(r2, n2, f3 || t3), f3 = 0;
  var u4 = r2.__H || (r2.__H = {
    __: [],
    __h: []
  });
  return n2 >= u4.__.length && u4.__.push({}), u4.__[n2];
}
function d2(n2) {
  return f3 = 1, _2(G2, n2);
}
function _2(n2, u4, i3) {
  var f4 = y2(t2++, 2);
  if (f4.t = n2, !f4.__c && (f4.__ = [
    i3 ? i3(u4) : G2(void 0, u4),
    function(n3) {
      var t3 = (f4.__N || f4.__)[0], r3 = f4.t(t3, n3);
      o3(t3, r3) || (f4.__N = [
        r3,
        f4.__[1]
      ], f4.__c.setState({}));
    }
  ], f4.__c = r2, !r2.__f)) {
    r2.__f = true;
    var c3 = r2.shouldComponentUpdate;
    r2.shouldComponentUpdate = function(n3, t3, r3) {
      var u5 = this.__H;
      if (!u5) return true;
      var i4 = false, f5 = this.props != n3;
      if (u5.__.some(function(n4) {
        n4.__N && (i4 = true, o3(n4.__[0], n4.__N[0]) || (f5 = true));
      }), c3) {
        var e3 = c3.call(this, n3, t3, r3);
        return i4 ? e3 || f5 : e3;
      }
      return !i4 || f5;
    };
  }
  return f4.__;
}
function A2(n2, u4) {
  var i3 = y2(t2++, 3);
  !a3.__s && E2(i3.__H, u4) && (i3.__P = true, i3.__ = n2, i3.u = u4, r2.__H.__h.push(i3));
}
function g2() {
  var n2;
  do {
    for (; n2 = e2.shift(); ) try {
      C2(n2);
    } catch (t4) {
      a3.__e(t4, {
        __: (n2 = n2.__P) && n2.__v
      });
    }
    for (; n2 = c2.shift(); ) {
      var t3 = n2.__H;
      if (n2.__P && t3) try {
        t3.__h.some(C2), t3.__h.some(D2), t3.__h = [];
      } catch (r3) {
        t3.__h = [], a3.__e(r3, n2.__v);
      }
    }
  } while (e2.length);
}
a3.__b = function(n2) {
  r2 = null, v2 && v2(n2);
}, a3.__ = function(n2, t3) {
  n2 && t3.__k && t3.__k.__m && (n2.__m = t3.__k.__m), p2 && p2(n2, t3);
}, a3.__r = function(n2) {
  l2 && l2(n2), t2 = 0;
  var i3 = (r2 = n2.__c).__H;
  i3 && (u3 == r2 ? r2.__h = [] : (i3.__h.some(C2), i3.__h.some(D2), t2 = 0), i3.__h = [], i3.__.some(function(n3) {
    n3.__N && (n3.__ = n3.__N), n3.u = n3.__N = void 0;
  })), u3 = r2;
}, a3.diffed = function(n2) {
  m2 && m2(n2);
  var t3 = n2.__c;
  t3 && t3.__H && (t3.__H.__h.length && B2(c2.push(t3)), t3.__H.__.some(function(n3) {
    n3.u && (n3.__H = n3.u);
  })), u3 = r2 = null;
}, a3.__c = function(n2, t3) {
  t3.some(function(n3) {
    try {
      n3.__h.some(C2), n3.__h = n3.__h.filter(function(n4) {
        return !n4.__ || D2(n4);
      });
    } catch (t4) {
      n3.__h = [
        function() {
          throw t4;
        }
      ];
    }
  }), h2 && h2(n2, t3);
}, a3.unmount = function(n2) {
  s2 && s2(n2);
  var t3, r3, u4 = n2.__c;
  u4 && u4.__H && (u4.__H.__.some(function(u5) {
    try {
      if (u5.__P && u5.__c) {
        if (void 0 === r3) {
          for (r3 = n2.__; r3 && (!r3.__c || !r3.__c.__P); ) r3 = r3.__;
          r3 = r3 && r3.__c;
        }
        u5.__P = r3, B2(e2.push(u5));
      } else C2(u5);
    } catch (n3) {
      t3 = n3;
    }
  }), u4.__H = void 0, t3 && a3.__e(t3, u4.__v));
};
var k = "function" == typeof requestAnimationFrame;
function z2(n2) {
  var t3, r3 = function() {
    clearTimeout(u4), k && cancelAnimationFrame(t3), setTimeout(n2);
  }, u4 = setTimeout(r3, 35);
  k && (t3 = requestAnimationFrame(r3));
}
function B2(n2) {
  1 != n2 && i2 == a3.requestAnimationFrame || ((i2 = a3.requestAnimationFrame) || z2)(g2);
}
function C2(n2) {
  var t3 = r2, u4 = n2.__c;
  "function" == typeof u4 && (n2.__c = void 0, u4()), r2 = t3;
}
function D2(n2) {
  var t3 = r2;
  n2.__c = n2.__(), r2 = t3;
}
function E2(n2, t3) {
  return !n2 || n2.length != t3.length || t3.some(function(t4, r3) {
    return !o3(t4, n2[r3]);
  });
}
function G2(n2, t3) {
  return "function" == typeof t3 ? t3(n2) : t3;
}

// static/app.tsx
async function api(path, init) {
  const res = await fetch(path, init);
  const text = await res.text();
  let body = {};
  try {
    body = JSON.parse(text);
  } catch {
    if (!res.ok) throw new Error(`${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new Error(`${body.error ?? res.status}: ${body.detail ?? text}`);
  return body;
}
function numbersOf(s3) {
  return {
    steps: Number(s3.steps),
    eta: Number(s3.eta),
    seed: Number(s3.seed),
    guidance: Number(s3.guidance)
  };
}
function generate(body) {
  return api("/api/generate", {
    method: "POST",
    headers: {
      "content-type": "application/json"
    },
    body: JSON.stringify({
      ...body,
      format: "json"
    })
  });
}
function Field(props) {
  return /* @__PURE__ */ a2("label", {
    children: [
      props.label,
      /* @__PURE__ */ a2("input", {
        name: props.name,
        inputMode: "decimal",
        value: props.settings[props.name],
        onChange: (e3) => props.set({
          ...props.settings,
          [props.name]: e3.target.value
        })
      })
    ]
  });
}
function SpritesTab({ classes }) {
  const [settings, setSettings] = d2({
    count: "4",
    steps: "10",
    eta: "0",
    seed: "1",
    guidance: "1"
  });
  const [grids, setGrids] = d2([]);
  const [error, setError] = d2("");
  const [busy, setBusy] = d2(false);
  const [total, setTotal] = d2(null);
  const [mix, setMix] = d2(classes.map((_3, i3) => i3 < 2 ? 0.5 : 0));
  const [mixed, setMixed] = d2();
  async function run(s3) {
    setBusy(true);
    setError("");
    const started = performance.now();
    try {
      const results = await Promise.all(classes.map((c3) => generate({
        class: c3.index,
        count: Number(s3.count),
        ...numbersOf(s3)
      })));
      setGrids(results);
      setTotal(Math.round(performance.now() - started));
    } catch (e3) {
      setError(e3.message);
    } finally {
      setBusy(false);
    }
  }
  async function runMix() {
    setError("");
    try {
      setMixed(await generate({
        labels: mix,
        count: 8,
        ...numbersOf(settings)
      }));
    } catch (e3) {
      setError(e3.message);
    }
  }
  A2(() => {
    run(settings);
  }, []);
  const update = (s3) => {
    setSettings(s3);
    run(s3);
  };
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "controls",
        children: [
          /* @__PURE__ */ a2(Field, {
            label: "per class",
            name: "count",
            settings,
            set: update
          }),
          /* @__PURE__ */ a2(Field, {
            label: "steps",
            name: "steps",
            settings,
            set: update
          }),
          /* @__PURE__ */ a2(Field, {
            label: "eta",
            name: "eta",
            settings,
            set: update
          }),
          /* @__PURE__ */ a2(Field, {
            label: "seed",
            name: "seed",
            settings,
            set: update
          }),
          /* @__PURE__ */ a2(Field, {
            label: "guidance",
            name: "guidance",
            settings,
            set: update
          }),
          /* @__PURE__ */ a2("button", {
            type: "button",
            class: "primary",
            id: "new-seed",
            onClick: () => update({
              ...settings,
              seed: String(Math.floor(Math.random() * 1e6))
            }),
            children: "New seed"
          }),
          /* @__PURE__ */ a2("span", {
            class: "note",
            id: "timing",
            children: busy ? "generating\u2026" : total !== null ? `${total} ms for ${classes.length} grids` : ""
          })
        ]
      }),
      error && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: error
      }),
      /* @__PURE__ */ a2("div", {
        class: "grids",
        children: classes.map((c3, i3) => /* @__PURE__ */ a2("div", {
          class: "card",
          children: [
            /* @__PURE__ */ a2("h2", {
              children: [
                c3.index,
                " ",
                c3.name
              ]
            }),
            grids[i3] ? /* @__PURE__ */ a2($, {
              children: [
                /* @__PURE__ */ a2("img", {
                  class: "sprites",
                  "data-class": c3.name,
                  src: grids[i3].grid,
                  alt: c3.name
                }),
                /* @__PURE__ */ a2("div", {
                  class: "note",
                  children: [
                    grids[i3].ms,
                    " ms"
                  ]
                })
              ]
            }) : /* @__PURE__ */ a2("div", {
              class: "note",
              children: "\u2026"
            })
          ]
        }, c3.index))
      }),
      /* @__PURE__ */ a2("div", {
        class: "card mix",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "Class mix"
          }),
          classes.map((c3, i3) => /* @__PURE__ */ a2("div", {
            class: "slider",
            children: [
              /* @__PURE__ */ a2("span", {
                children: c3.name
              }),
              /* @__PURE__ */ a2("input", {
                type: "range",
                min: "0",
                max: "1",
                step: "0.05",
                value: mix[i3],
                onInput: (e3) => {
                  const next = [
                    ...mix
                  ];
                  next[i3] = Number(e3.target.value);
                  setMix(next);
                }
              }),
              /* @__PURE__ */ a2("span", {
                children: mix[i3].toFixed(2)
              })
            ]
          }, c3.index)),
          /* @__PURE__ */ a2("p", {
            children: /* @__PURE__ */ a2("button", {
              type: "button",
              class: "primary",
              onClick: runMix,
              children: "Generate mixture"
            })
          }),
          mixed && /* @__PURE__ */ a2($, {
            children: [
              /* @__PURE__ */ a2("img", {
                class: "sprites",
                id: "mix-grid",
                src: mixed.grid,
                alt: "mixture"
              }),
              /* @__PURE__ */ a2("div", {
                class: "note",
                children: [
                  mixed.ms,
                  " ms"
                ]
              })
            ]
          })
        ]
      })
    ]
  });
}
function DatasetTab() {
  const [report, setReport] = d2();
  const [error, setError] = d2("");
  const [cls, setCls] = d2("");
  A2(() => {
    api("/api/dataset").then(setReport, (e3) => setError(e3.message));
  }, []);
  if (error) return /* @__PURE__ */ a2("div", {
    class: "error",
    role: "alert",
    children: error
  });
  if (!report) return /* @__PURE__ */ a2("p", {
    class: "note",
    children: "Loading the dataset report\u2026"
  });
  const max = Math.max(...report.classes.map((c3) => c3.before));
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "card",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "Sprites per class, before and after cleaning"
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            children: [
              report.total,
              " sprites, ",
              report.removed,
              " removed by the cleaning rule, ",
              report.kept,
              " kept"
            ]
          }),
          /* @__PURE__ */ a2("div", {
            class: "hist",
            children: report.classes.map((c3) => /* @__PURE__ */ a2("div", {
              class: "row",
              children: [
                /* @__PURE__ */ a2("span", {
                  children: [
                    c3.name,
                    /* @__PURE__ */ a2("br", {}),
                    /* @__PURE__ */ a2("span", {
                      class: "note",
                      children: [
                        c3.before,
                        " \u2192 ",
                        c3.after
                      ]
                    })
                  ]
                }),
                /* @__PURE__ */ a2("div", {
                  children: [
                    /* @__PURE__ */ a2("div", {
                      class: "bar before",
                      style: {
                        width: `${100 * c3.before / max}%`
                      }
                    }),
                    /* @__PURE__ */ a2("div", {
                      class: "bar after",
                      style: {
                        width: `${100 * c3.after / max}%`
                      }
                    })
                  ]
                })
              ]
            }, c3.index))
          })
        ]
      }),
      /* @__PURE__ */ a2("div", {
        class: "card",
        style: {
          marginTop: "10px"
        },
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "Removed sprites"
          }),
          /* @__PURE__ */ a2("select", {
            value: cls,
            onChange: (e3) => setCls(e3.target.value),
            children: [
              /* @__PURE__ */ a2("option", {
                value: "",
                children: "all classes"
              }),
              report.classes.map((c3) => /* @__PURE__ */ a2("option", {
                value: String(c3.index),
                children: c3.name
              }, c3.index))
            ]
          }),
          /* @__PURE__ */ a2("img", {
            class: "pixel",
            style: {
              marginTop: "8px",
              maxWidth: "100%"
            },
            src: `/api/dataset/examples.png?kind=removed&count=32${cls ? `&class=${cls}` : ""}`,
            alt: "removed sprites"
          })
        ]
      })
    ]
  });
}
function LossCurve({ losses }) {
  if (losses.length < 2) return /* @__PURE__ */ a2("p", {
    class: "note",
    children: "The loss curve appears after two readings."
  });
  const maxStep = losses[losses.length - 1].step;
  const top = Math.max(...losses.map((l3) => l3.loss));
  const points = losses.map((l3) => `${l3.step / maxStep * 400},${200 - l3.loss / top * 190}`);
  return /* @__PURE__ */ a2("svg", {
    class: "loss",
    viewBox: "0 0 400 200",
    preserveAspectRatio: "none",
    children: /* @__PURE__ */ a2("polyline", {
      points: points.join(" "),
      fill: "none",
      stroke: "#3558d6",
      "stroke-width": "2"
    })
  });
}
function TrainTab() {
  const [state, setState] = d2({
    status: "idle"
  });
  const [error, setError] = d2("");
  const [form, setForm] = d2({
    epochs: "1",
    batch: "32",
    max_steps: "50"
  });
  const follow = () => {
    const source = new EventSource("/api/train/events");
    source.addEventListener("state", (e3) => setState(JSON.parse(e3.data)));
    source.addEventListener("progress", (e3) => {
      const progress = JSON.parse(e3.data);
      setState((s3) => ({
        ...s3,
        progress,
        losses: [
          ...s3.losses ?? [],
          {
            step: progress.step,
            loss: progress.loss
          }
        ]
      }));
    });
    source.addEventListener("end", (e3) => {
      setState(JSON.parse(e3.data));
      source.close();
    });
  };
  A2(follow, []);
  const act = async (method, path, body) => {
    setError("");
    try {
      const s3 = await api(path, {
        method,
        headers: {
          "content-type": "application/json"
        },
        body: body === void 0 ? void 0 : JSON.stringify(body)
      });
      if (method === "POST" && path === "/api/train") {
        setState(s3);
        follow();
      }
    } catch (e3) {
      setError(e3.message);
    }
  };
  const p3 = state.progress;
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "controls",
        children: [
          [
            "epochs",
            "batch",
            "max_steps"
          ].map((k2) => /* @__PURE__ */ a2("label", {
            children: [
              k2.replace("_", " "),
              /* @__PURE__ */ a2("input", {
                value: form[k2],
                onChange: (e3) => setForm({
                  ...form,
                  [k2]: e3.target.value
                })
              })
            ]
          }, k2)),
          /* @__PURE__ */ a2("button", {
            type: "button",
            class: "primary",
            onClick: () => act("POST", "/api/train", {
              epochs: Number(form.epochs),
              batch: Number(form.batch),
              max_steps: Number(form.max_steps)
            }),
            children: "Start"
          }),
          /* @__PURE__ */ a2("button", {
            type: "button",
            onClick: () => act("DELETE", "/api/train"),
            children: "Stop"
          }),
          /* @__PURE__ */ a2("button", {
            type: "button",
            onClick: () => act("POST", "/api/train/swap"),
            children: "Serve this checkpoint"
          })
        ]
      }),
      error && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: error
      }),
      /* @__PURE__ */ a2("p", {
        id: "train-status",
        children: [
          state.status,
          p3 && ` \xB7 step ${p3.step}/${p3.totalSteps} \xB7 epoch ${p3.epoch + 1}`,
          p3?.loss != null && ` \xB7 loss ${p3.loss.toFixed(4)}`,
          p3?.itPerSec != null && ` \xB7 ${p3.itPerSec.toFixed(2)} it/s`,
          p3?.etaSeconds != null && ` \xB7 ETA ${Math.round(p3.etaSeconds)} s`,
          state.error && ` \xB7 ${state.error}`
        ]
      }),
      /* @__PURE__ */ a2(LossCurve, {
        losses: state.losses ?? []
      }),
      state.checkpoint && /* @__PURE__ */ a2("p", {
        class: "note",
        children: [
          "checkpoint: ",
          state.checkpoint
        ]
      })
    ]
  });
}
function App() {
  const [classes, setClasses] = d2();
  const [training, setTraining] = d2(false);
  const [model, setModel] = d2("");
  const [tab, setTab] = d2("sprites");
  const [error, setError] = d2("");
  A2(() => {
    api("/api/classes").then((r3) => setClasses(r3.classes), (e3) => setError(e3.message));
    api("/api/health").then((h3) => {
      setTraining(h3.training);
      setModel(h3.adapter);
    }, () => {
    });
  }, []);
  const tabs = [
    [
      "sprites",
      "Sprites"
    ],
    [
      "dataset",
      "Dataset"
    ],
    ...training ? [
      [
        "train",
        "Training"
      ]
    ] : []
  ];
  return /* @__PURE__ */ a2($, {
    children: [
      /* @__PURE__ */ a2("h1", {
        children: "Sprite Diffusion"
      }),
      /* @__PURE__ */ a2("p", {
        class: "note",
        children: model
      }),
      /* @__PURE__ */ a2("nav", {
        role: "tablist",
        children: tabs.map(([id, label]) => /* @__PURE__ */ a2("button", {
          type: "button",
          role: "tab",
          "aria-selected": tab === id,
          onClick: () => setTab(id),
          children: label
        }, id))
      }),
      error && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: error
      }),
      tab === "sprites" && classes && /* @__PURE__ */ a2(SpritesTab, {
        classes
      }),
      tab === "dataset" && /* @__PURE__ */ a2(DatasetTab, {}),
      tab === "train" && /* @__PURE__ */ a2(TrainTab, {})
    ]
  });
}
Q(/* @__PURE__ */ a2(App, {}), document.getElementById("app"));
