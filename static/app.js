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
  var s3, h3, v3, w3, d3, _3, g3 = u4.__k || y, k2 = t3.length;
  for (l3 = q(r3, t3, g3, l3, k2), s3 = 0; s3 < k2; s3++) null != (v3 = r3.__k[s3]) && (h3 = ~v3.__i && g3[v3.__i] || p, v3.__i = s3, _3 = z(n2, v3, h3, i3, f4, o4, e3, l3, c3, a4), w3 = v3.__e, (h3.ref != v3.ref || 8 & h3.__u) && (h3.ref && G(h3.ref, null, v3, h3), v3.ref && a4.push(v3.ref, v3.__c || w3, v3)), d3 = d3 || w3, 4 & v3.__u ? (l3 = A(v3, l3, n2, !h3.__v), h3.__e && (h3.__e = null)) : "function" == typeof v3.type && void 0 !== _3 ? l3 = _3 : w3 && (l3 = w3.nextSibling), v3.__u &= -21);
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
  var s3, p3, v3, d3, k2, b, m3, M2, C3, j2, L2, H3, q2, A3, O, P2, T3, N2, V2 = r3.type;
  if (r3.constructor !== h) return null;
  128 & u4.__u && (c3 = 32 & u4.__u, s3 = u4.__c.__z) && (r3.__u |= c3, p3 = o4 = [], 8 == s3.nodeType ? l3 = B(s3, o4) : o4.push(s3), l3 = o4[0] || l3), (s3 = n.__b) && s3(r3);
  n: if ("function" == typeof V2) {
    v3 = e3.length;
    try {
      if (M2 = r3.props, C3 = (s3 = V2.prototype) && s3.render, j2 = (s3 = V2.contextType) && i3[s3.__c], L2 = s3 ? j2 ? j2.props.value : s3.__ : i3, (d3 = u4.__c) ? (r3.__c = d3, 2 & d3.__g && (d3.__g |= 1)) : (C3 ? r3.__c = d3 = new V2(M2, L2) : (r3.__c = d3 = new x(M2, L2), d3.constructor = V2, d3.render = K), j2 && j2.sub(d3), d3.state || (d3.state = {}), d3.__n = i3, d3.__g |= 8, d3.__h = [], d3.__k = []), C3 && (d3.__s || (d3.__s = d3.state), V2.getDerivedStateFromProps && (d3.__s == d3.state && (d3.__s = _({}, d3.__s)), _(d3.__s, V2.getDerivedStateFromProps(M2, d3.__s)))), k2 = d3.props, b = d3.state, d3.__v = r3, u4.__c) {
        if (M2 !== k2 && C3 && !V2.getDerivedStateFromProps && d3.componentWillReceiveProps && d3.componentWillReceiveProps(M2, L2), r3.__v == u4.__v && !(8 & d3.__g) || !(4 & d3.__g) && d3.shouldComponentUpdate && false === d3.shouldComponentUpdate(M2, d3.__s, L2)) {
          r3.__v != u4.__v && (d3.props = M2, d3.state = d3.__s, d3.__g &= -9), r3.__e = u4.__e, r3.__k = u4.__k, r3.__k.some(function(n2) {
            n2 && (n2.__ = r3);
          }), y.push.apply(d3.__h, d3.__k), d3.__k = [], d3.__h.length && e3.push(d3), l3 = S(u4);
          break n;
        }
        d3.componentWillUpdate && d3.componentWillUpdate(M2, d3.__s, L2), C3 && d3.componentDidUpdate && d3.__h.push(function() {
          d3.componentDidUpdate(k2, b, m3);
        });
      } else C3 && !V2.getDerivedStateFromProps && d3.componentWillMount && d3.componentWillMount(), C3 && d3.componentDidMount && d3.__h.push(d3.componentDidMount);
      d3.context = L2, d3.props = M2, d3.__P = t3, d3.__g &= -5, H3 = n.__r, q2 = C3 ? 25 : 0;
      do {
        d3.__g &= -9, H3 && H3(r3), s3 = d3.render(d3.props, d3.state = d3.__s, d3.context);
      } while (8 & d3.__g && ++q2 < 25);
      C3 && (y.push.apply(d3.__h, d3.__k), d3.__k = []), d3.state = d3.__s, d3.getChildContext && (i3 = _({}, i3, d3.getChildContext())), C3 && u4.__c && d3.getSnapshotBeforeUpdate && (m3 = d3.getSnapshotBeforeUpdate(k2, b)), A3 = s3 && s3.type === $ && null == s3.key ? s3.props.children : s3, M2.__P && (s3 = l3, f4 = (t3 = M2.__P).namespaceURI, c3 = o4 = null, u4.props && u4.props.__P != t3 && (u4.__k.some(function(n2) {
        n2 && J(n2, n2);
      }), u4.__k = null), l3 = u4.__k ? S(u4, 0) : null), l3 = I(t3, w(A3) ? A3 : [
        A3
      ], r3, u4, i3, f4, o4, e3, l3, c3, a4), M2.__P && (r3.__e = null, l3 = s3), r3.__u &= -161, p3 && p3.some(g), d3.__h.length && e3.push(d3), 1 & d3.__g && (d3.__g &= -4);
    } catch (t4) {
      if (e3.length = v3, r3.__v = null, c3 || o4) if (t4 && t4.then) {
        if (r3.__u |= 128 | c3, o4) {
          for (~(T3 = o4.indexOf(l3 || void 0)) || (T3 = o4.length); (N2 = o4[T3 - 1]) && 8 == N2.nodeType; ) T3--;
          for (; T3 < o4.length; T3++) if (N2 = o4[T3]) if (o4[T3] = null, O) {
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
  var s3, h3, y3, _3, k2, b, m3, M2, $2 = u4.props || p, x2 = r3.props, C3 = r3.type;
  if ("svg" == C3 ? f4 = "http://www.w3.org/2000/svg" : "math" == C3 ? f4 = "http://www.w3.org/1998/Math/MathML" : f4 || (f4 = "http://www.w3.org/1999/xhtml"), o4) {
    for (s3 = 0; s3 < o4.length; s3++) if ((k2 = o4[s3]) && (C3 ? k2.localName == C3 : 3 == k2.nodeType)) {
      t3 = k2, o4[s3] = null;
      break;
    }
  }
  if (!t3) {
    if (M2 = a4.ownerDocument || document, !C3) return M2.createTextNode(x2);
    t3 = M2.createElementNS(f4, C3, x2.is ? x2 : a4), l3 && (n.__m && n.__m(r3, o4), l3 = false), o4 = null;
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
function T2(n2) {
  return f3 = 5, w2(function() {
    return {
      current: n2
    };
  }, []);
}
function w2(n2, r3) {
  var u4 = y2(t2++, 7);
  return E2(u4.__H, r3) && (u4.__ = n2(), u4.__H = r3), u4.__;
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

// static/api.ts
var TOKEN_KEY = "sprite-diffusion-token";
function savedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}
function saveToken(token2) {
  try {
    if (token2) sessionStorage.setItem(TOKEN_KEY, token2);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
  }
  memoryToken = token2;
}
var memoryToken = "";
var token = () => memoryToken || savedToken();
var ApiError = class extends Error {
  status;
  constructor(status, message) {
    super(message), this.status = status;
  }
};
function headersFor(path, init) {
  const headers = new Headers(init?.headers);
  const t3 = token();
  if (t3 && (path.startsWith("/api/train") || path.startsWith("/api/quality"))) {
    headers.set("authorization", `Bearer ${t3}`);
  }
  if (init?.body !== void 0 && !headers.has("content-type")) {
    headers.set("content-type", "application/json");
  }
  return headers;
}
async function failure(res) {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    return new ApiError(res.status, `${body.error ?? res.status}: ${body.detail ?? text}`);
  } catch {
    return new ApiError(res.status, `${res.status}: ${text.slice(0, 200)}`);
  }
}
async function api(path, init) {
  const res = await fetch(path, {
    ...init,
    headers: headersFor(path, init)
  });
  if (!res.ok) throw await failure(res);
  return await res.json();
}
async function imageUrl(path, signal) {
  const res = await fetch(path, {
    headers: headersFor(path),
    signal
  });
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}
async function readEvents(path, onEvent, o4 = {}) {
  const init = o4.body === void 0 ? {
    signal: o4.signal
  } : {
    method: "POST",
    body: JSON.stringify(o4.body),
    signal: o4.signal
  };
  const headers = headersFor(path, init);
  headers.set("accept", "text/event-stream");
  const res = await fetch(path, {
    ...init,
    headers
  });
  if (!res.ok) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(":")) continue;
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = block.split("\n").filter((l3) => l3.startsWith("data: ")).map((l3) => l3.slice(6)).join("\n");
      onEvent(name, data ? JSON.parse(data) : null);
    }
  }
}

// static/dataset_tab.tsx
function DatasetTab(props) {
  const [report, setReport] = d2();
  const [error, setError] = d2("");
  const { kind, cls } = props.view;
  A2(() => {
    api("/api/dataset").then(setReport, (e3) => setError(e3.message));
  }, [
    props.modelVersion
  ]);
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
  const shown = report.classes.find((c3) => String(c3.index) === cls);
  const available = shown ? kind === "kept" ? shown.after : shown.removed : report[kind];
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
        class: "card examples",
        children: [
          /* @__PURE__ */ a2("h2", {
            id: "examples-title",
            children: kind === "kept" ? "Kept sprites" : "Removed sprites"
          }),
          /* @__PURE__ */ a2("div", {
            class: "controls",
            children: [
              /* @__PURE__ */ a2("fieldset", {
                class: "toggle",
                "aria-label": "which sprites",
                children: [
                  "removed",
                  "kept"
                ].map((k2) => /* @__PURE__ */ a2("label", {
                  children: [
                    /* @__PURE__ */ a2("input", {
                      type: "radio",
                      name: "kind",
                      value: k2,
                      checked: kind === k2,
                      onChange: () => props.setView({
                        kind: k2,
                        cls
                      })
                    }),
                    k2
                  ]
                }, k2))
              }),
              /* @__PURE__ */ a2("select", {
                name: "class",
                value: cls,
                onChange: (e3) => props.setView({
                  kind,
                  cls: e3.target.value
                }),
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
              /* @__PURE__ */ a2("span", {
                class: "note",
                children: [
                  Math.min(32, available),
                  " of ",
                  available,
                  " ",
                  kind,
                  " ",
                  shown ? shown.name : "",
                  " sprites"
                ]
              })
            ]
          }),
          /* @__PURE__ */ a2("img", {
            class: "pixel examples",
            src: `/api/dataset/examples.png?kind=${kind}&count=32${cls ? `&class=${cls}` : ""}`,
            alt: `${kind} sprites`
          })
        ]
      })
    ]
  });
}

// gpu/runtime/errors.ts
var EngineInputError = class extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
};
var RequestError = class extends EngineInputError {
};
var ConfigError = class extends EngineInputError {
};
var CheckpointError = class extends EngineInputError {
};
var NonFiniteResultError = class extends EngineInputError {
};

// gpu/formats/safetensors.ts
var SafetensorsMap = class extends Map {
  metadata = {};
};
var SafetensorsError = class extends EngineInputError {
};
var bytesPerElement = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8
};
var MAX_HEADER_BYTES = 1e8;
function fail(what, message) {
  throw new SafetensorsError(`safetensors${what ? ` (${what})` : ""}: ${message}`);
}
function isShape(shape) {
  return Array.isArray(shape) && shape.every((d3) => Number.isInteger(d3) && d3 >= 0);
}
function f16ToF32(h3) {
  const sign = h3 & 32768 ? -1 : 1;
  const exp = h3 >> 10 & 31;
  const frac = h3 & 1023;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
function decode(dtype, bytes, count) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === "F32") {
    for (let i3 = 0; i3 < count; i3++) out[i3] = view.getFloat32(i3 * 4, true);
  } else if (dtype === "F64") {
    for (let i3 = 0; i3 < count; i3++) out[i3] = view.getFloat64(i3 * 8, true);
  } else if (dtype === "F16") {
    for (let i3 = 0; i3 < count; i3++) out[i3] = f16ToF32(view.getUint16(i3 * 2, true));
  } else {
    const u4 = new Uint32Array(out.buffer);
    for (let i3 = 0; i3 < count; i3++) u4[i3] = view.getUint16(i3 * 2, true) << 16;
  }
  return out;
}
function readSafetensors(bytes) {
  if (bytes.byteLength < 8) {
    fail("", `file is truncated: ${bytes.byteLength} bytes, less than the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    fail("", `header length ${headerLength} runs past the end of the ${bytes.byteLength}-byte file`);
  }
  const n2 = Number(headerLength);
  if (n2 > MAX_HEADER_BYTES) fail("", `header length ${n2} is over the ${MAX_HEADER_BYTES} limit`);
  let header;
  try {
    header = JSON.parse(new TextDecoder("utf-8", {
      fatal: true
    }).decode(bytes.subarray(8, 8 + n2)));
  } catch (e3) {
    fail("", `header is not valid JSON: ${e3.message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("", "header is not a JSON object");
  }
  const data = bytes.subarray(8 + n2);
  const out = new SafetensorsMap();
  const ranges = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail(name, "__metadata__ is not an object");
      }
      for (const [k2, v3] of Object.entries(entry)) {
        if (typeof v3 !== "string") fail(name, `metadata value ${k2} is not a string`);
        out.metadata[k2] = v3;
      }
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry ?? {};
    if (typeof dtype !== "string") fail(name, "entry has no dtype");
    if (!(dtype in bytesPerElement)) {
      fail(name, `unsupported dtype ${dtype} (F32, F16, BF16 and F64 are read)`);
    }
    if (!isShape(shape)) fail(name, `bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o4) => Number.isSafeInteger(o4) && o4 >= 0)) {
      fail(name, `bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets;
    if (begin > end || end > data.byteLength) {
      fail(name, `data_offsets [${begin}, ${end}] are outside the ${data.byteLength}-byte data section (truncated file?)`);
    }
    const count = shape.reduce((a4, b) => a4 * b, 1);
    if (end - begin !== count * bytesPerElement[dtype]) {
      fail(name, `shape [${shape}] of ${dtype} needs ${count * bytesPerElement[dtype]} bytes, data_offsets give ${end - begin}`);
    }
    ranges.push({
      name,
      begin,
      end
    });
    out.set(name, {
      dtype,
      shape: [
        ...shape
      ],
      data: decode(dtype, data.subarray(begin, end), count)
    });
  }
  ranges.sort((a4, b) => a4.begin - b.begin || a4.end - b.end);
  for (let i3 = 1; i3 < ranges.length; i3++) {
    if (ranges[i3].begin < ranges[i3 - 1].end) {
      fail(ranges[i3].name, `data overlaps tensor ${ranges[i3 - 1].name}`);
    }
  }
  return out;
}

// gpu/formats/checkpoint.ts
var CHECKPOINT_FILES = {
  config: "config.json",
  unet: "diffusion_pytorch_model.safetensors",
  embedding: "emb_net.safetensors",
  info: "sprite_diffusion.json"
};
function parseJsonObject(path, bytes) {
  let value;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e3) {
    throw new CheckpointError(`${path} is not valid JSON: ${e3.message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CheckpointError(`${path} does not hold a JSON object`);
  }
  return value;
}
function parseTensors(path, bytes) {
  try {
    return readSafetensors(bytes);
  } catch (e3) {
    throw new CheckpointError(`${path}: ${e3.message}`);
  }
}
function decodeCheckpoint(where, files) {
  const path = (name) => `${where.replace(/\/+$/, "")}/${name}`;
  const required = (name) => {
    const bytes = files.get(name);
    if (!bytes) throw new CheckpointError(`checkpoint ${where} has no ${name}`);
    return bytes;
  };
  const { config, unet, embedding, info } = CHECKPOINT_FILES;
  const embBytes = files.get(embedding);
  const infoBytes = files.get(info);
  return {
    config: parseJsonObject(path(config), required(config)),
    unet: parseTensors(path(unet), required(unet)),
    embedding: embBytes && parseTensors(path(embedding), embBytes),
    info: infoBytes && parseJsonObject(path(info), infoBytes)
  };
}
function checkTensors(expected, actual, what) {
  const problems = [];
  const known = /* @__PURE__ */ new Set();
  for (const { name, shape } of expected) {
    known.add(name);
    const t3 = actual.get(name);
    if (!t3) problems.push(`missing tensor ${name} [${shape}]`);
    else if (t3.shape.length !== shape.length || t3.shape.some((d3, i3) => d3 !== shape[i3])) {
      problems.push(`tensor ${name} has shape [${t3.shape}], expected [${shape}]`);
    }
  }
  for (const name of actual.keys()) if (!known.has(name)) problems.push(`unknown tensor ${name}`);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
    throw new CheckpointError(`${what}: ${problems[0]}${more}`);
  }
}

// gpu/runtime/memory.ts
var AllocationScope = class {
  label;
  #resources;
  #bytes;
  #destroyed;
  constructor(label) {
    this.label = label;
    this.#resources = [];
    this.#bytes = 0;
    this.#destroyed = false;
  }
  get bytes() {
    return this.#bytes;
  }
  get destroyed() {
    return this.#destroyed;
  }
  add(resource, bytes) {
    if (this.#destroyed) {
      resource.destroy();
      throw new Error(`allocation scope ${this.label} is already destroyed`);
    }
    this.#resources.push(resource);
    this.#bytes += bytes;
  }
  /** Destroys every resource of the scope now; anything built from them must not run again. */
  destroy() {
    for (const r3 of this.#resources) r3.destroy();
    this.#resources = [];
    this.#bytes = 0;
    this.#destroyed = true;
  }
};
function withAllocations(gpu, scope) {
  return {
    ...gpu,
    allocations: scope
  };
}
function trackAllocation(gpu, resource, bytes) {
  gpu.allocations?.add(resource, bytes);
}
var TEXEL_BYTES = {
  rgba32float: 16,
  rgba16float: 8,
  r32float: 4,
  r32uint: 4,
  rgba8unorm: 4
};
function textureDescriptorBytes(d3) {
  const [w3, h3 = 1, layers = 1] = Array.isArray(d3.size) ? d3.size : [
    d3.size.width,
    d3.size.height ?? 1,
    d3.size.depthOrArrayLayers ?? 1
  ];
  const texel = TEXEL_BYTES[d3.format];
  if (texel === void 0) throw new Error(`textureDescriptorBytes: format ${d3.format}`);
  return w3 * h3 * layers * texel;
}
function countingDevice(real, count) {
  const inert = {
    destroy() {
    },
    label: ""
  };
  const device = {
    limits: real.limits,
    features: real.features,
    label: "counting device",
    queue: {
      writeBuffer() {
      },
      submit() {
      },
      onSubmittedWorkDone: () => Promise.resolve()
    },
    createBuffer(d3) {
      count.bufferBytes += d3.size;
      count.buffers++;
      return {
        ...inert,
        size: d3.size,
        usage: d3.usage
      };
    },
    createTexture(d3) {
      count.textureBytes += textureDescriptorBytes(d3);
      count.textures++;
      return {
        ...inert,
        createView: () => ({
          label: "",
          size: 0
        })
      };
    },
    createShaderModule: () => ({
      ...inert
    }),
    createComputePipeline: () => ({
      ...inert,
      getBindGroupLayout: () => ({})
    }),
    createBindGroup: () => ({
      ...inert
    }),
    createCommandEncoder() {
      throw new Error("a dry run must not record commands");
    },
    pushErrorScope() {
    },
    popErrorScope: () => Promise.resolve(null),
    addEventListener() {
    },
    lost: new Promise(() => {
    }),
    destroy() {
    }
  };
  return device;
}
async function dryRunAllocations(gpu, build) {
  const count = {
    bytes: 0,
    bufferBytes: 0,
    textureBytes: 0,
    buffers: 0,
    textures: 0
  };
  const { allocations: _ignored, ...plain } = gpu;
  await build({
    ...plain,
    device: countingDevice(gpu.device, count)
  });
  count.bytes = count.bufferBytes + count.textureBytes;
  return count;
}
var estimateTotal = (e3) => e3.deviceBytes + e3.hostBytes;
var MemoryBudgetError = class extends EngineInputError {
  status;
  constructor(message, status) {
    super(message), this.status = status;
  }
};

// gpu/runtime/tensor.ts
var bytesPerElement2 = {
  f32: 4,
  u32: 4,
  i32: 4,
  f16: 2
};
function sizeOf(shape) {
  return shape.reduce((a4, b) => a4 * b, 1);
}
var usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
function createTensor(gpu, shape, dtype = "f32", label = "") {
  if (shape.some((d3) => !Number.isInteger(d3) || d3 < 0)) {
    throw new Error(`tensor ${label}: bad shape [${shape}]`);
  }
  const size = sizeOf(shape);
  const bytes = Math.max(16, Math.ceil(size * bytesPerElement2[dtype] / 16) * 16);
  if (bytes > gpu.limits.maxStorageBufferBindingSize) {
    throw new MemoryBudgetError(`tensor ${label} [${shape}] needs ${bytes} bytes, over the adapter's binding limit ${gpu.limits.maxStorageBufferBindingSize}: lower the batch size`, 413);
  }
  const buffer = gpu.device.createBuffer({
    size: bytes,
    usage,
    label
  });
  trackAllocation(gpu, buffer, bytes);
  return {
    buffer,
    shape: [
      ...shape
    ],
    dtype,
    size,
    label,
    offset: 0
  };
}
var VIEW_ALIGN_BYTES = 256;
function tensorView(parent, elementOffset, shape, label = "") {
  const offset = parent.offset + elementOffset * bytesPerElement2[parent.dtype];
  const size = sizeOf(shape);
  if (offset % VIEW_ALIGN_BYTES !== 0) throw new Error(`view ${label}: offset ${offset} unaligned`);
  if (elementOffset + size > parent.size) {
    throw new Error(`view ${label}: [${shape}] at ${elementOffset} overruns ${parent.label}`);
  }
  return {
    buffer: parent.buffer,
    shape: [
      ...shape
    ],
    dtype: parent.dtype,
    size,
    label,
    offset
  };
}
function bindingSize(t3) {
  const bytes = Math.max(16, Math.ceil(t3.size * bytesPerElement2[t3.dtype] / 16) * 16);
  return Math.min(bytes, t3.buffer.size - t3.offset);
}
function tensorFrom(gpu, data, shape, label = "") {
  const dtype = data instanceof Float32Array ? "f32" : data instanceof Uint32Array ? "u32" : data instanceof Int32Array ? "i32" : "f16";
  const t3 = createTensor(gpu, shape, dtype, label);
  upload(gpu, t3, data);
  return t3;
}
function upload(gpu, t3, data, elementOffset = 0) {
  if (data.length + elementOffset > t3.size) {
    throw new Error(`upload to ${t3.label}: ${data.length} elements do not fit ${t3.size}`);
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
    const p3 = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    p3.set(bytes);
    return p3;
  })();
  gpu.device.queue.writeBuffer(t3.buffer, t3.offset + elementOffset * bytesPerElement2[t3.dtype], padded);
}
async function readback(gpu, t3) {
  const raw = await readbackBytes(gpu, t3.buffer, t3.offset, t3.size * bytesPerElement2[t3.dtype]);
  if (t3.dtype === "f32") return new Float32Array(raw);
  if (t3.dtype === "u32") return Float32Array.from(new Uint32Array(raw));
  if (t3.dtype === "i32") return Float32Array.from(new Int32Array(raw));
  const halves = new Uint16Array(raw);
  return Float32Array.from(halves, halfToFloat);
}
async function readbackBytes(gpu, buffer, offset, byteLength) {
  const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
  const staging = gpu.device.createBuffer({
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST
  });
  const encoder = gpu.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, Math.min(size, buffer.size - offset));
  gpu.device.queue.submit([
    encoder.finish()
  ]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return copy;
}
function halfToFloat(h3) {
  const sign = h3 & 32768 ? -1 : 1;
  const exp = h3 >> 10 & 31;
  const frac = h3 & 1023;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// gpu/runtime/kernel.ts
function hoisted(dispatches) {
  for (const d3 of dispatches) d3.hoist = true;
  return dispatches;
}
function copyStep(name, bytes, copy, effects = {}) {
  return {
    name,
    pipeline: null,
    bindGroup: null,
    workgroups: [
      0,
      0,
      0
    ],
    boundBytes: bytes,
    spec: {
      name,
      bindings: {},
      code: ""
    },
    copy,
    ...effects
  };
}
var textureBytes = /* @__PURE__ */ new WeakMap();
function registerTextureBytes(view, bytes) {
  textureBytes.set(view, bytes);
}
function kernelSource(spec) {
  const lines = [];
  if (spec.f16) lines.push("enable f16;");
  for (const [name, value] of Object.entries(spec.consts ?? {})) {
    const v3 = typeof value === "boolean" ? `${value}` : typeof value === "string" ? value : Number.isInteger(value) ? `${value}u` : `${value}f`;
    lines.push(`const ${name} = ${v3};`);
  }
  let binding = 0;
  const params3 = Object.entries(spec.params ?? {});
  if (params3.length) {
    lines.push(`struct Params { ${params3.map(([n2, t3]) => `${n2}: ${t3},`).join(" ")} }`);
    lines.push(`@group(0) @binding(${binding++}) var<uniform> p: Params;`);
  }
  for (const [name, decl] of Object.entries(spec.bindings)) {
    const [access, ...type] = decl.trim().split(/\s+/);
    if (access === "operand" && type[0] === "write") {
      if (spec.params?.[`${name}Pitch`] !== "u32") {
        throw new Error(`kernel ${spec.name}: operand ${name} needs a u32 parameter ${name}Pitch`);
      }
      const f162 = spec.textureFormat === "rgba16float";
      lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name}: ${f162 ? "array<vec2<u32>>" : "array<vec4<f32>>"};`, `fn store_${name}(xy: vec2u, v: vec4f) { ${name}[xy.y * p.${name}Pitch + xy.x] = ${f162 ? "f16Texel(toOperand(v))" : "v"}; }`);
      continue;
    }
    if (access === "mirror" && type[0] === "read") {
      lines.push(`@group(0) @binding(${binding++}) var ${name}: texture_storage_2d<rgba32float, read>;`, `fn load_${name}(i: u32) -> vec4f { return textureLoad(${name}, vec2u(i & ${MIRROR_WIDTH - 1}u, i >> ${Math.log2(MIRROR_WIDTH)}u)); }`);
      continue;
    }
    if (access === "texture" && (type[0] === "read" || type[0] === "write")) {
      lines.push(`@group(0) @binding(${binding++}) var ${name}: texture_storage_2d<${spec.textureFormat ?? "rgba32float"}, ${type[0]}>;`);
      continue;
    }
    if (access !== "read" && access !== "write") {
      throw new Error(`kernel ${spec.name}: binding ${name} must start with read or write`);
    }
    const mode = access === "read" ? "read" : "read_write";
    lines.push(`@group(0) @binding(${binding++}) var<storage, ${mode}> ${name}: ${type.join(" ") || "array<f32>"};`);
  }
  if (Object.values(spec.bindings).some(usesOperandFormat)) {
    lines.push(spec.textureFormat === "rgba16float" ? ROUND_TO_F16 + F16_TEXEL : TO_OPERAND_F32);
  }
  lines.push("fn flat_id(gid: vec3u, nwg: vec3u, wg: u32) -> u32 { return gid.x + gid.y * nwg.x * wg; }");
  return lines.join("\n") + "\n" + spec.code;
}
var TO_OPERAND_F32 = "fn toOperand(v: vec4f) -> vec4f { return v; }";
var ROUND_TO_F16 = (
  /* wgsl */
  `
fn roundToF16(x: f32) -> f32 {
  // f16 subnormals are multiples of 2^-24: exact in f32, and round() ties to even.
  if (abs(x) < 6.103515625e-5) { return round(x * 16777216.0) / 16777216.0; }
  let b = bitcast<u32>(x);
  let r = bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
  if (abs(r) > 65504.0) { return bitcast<f32>((b & 0x80000000u) | 0x7f800000u); }
  return r;
}
fn toOperand(v: vec4f) -> vec4f {
  return vec4f(roundToF16(v.x), roundToF16(v.y), roundToF16(v.z), roundToF16(v.w));
}`
);
var F16_TEXEL = (
  /* wgsl */
  `
fn f16Bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return sign | 0x7c00u | select(0u, 0x200u, a > 0x7f800000u); }
  // Below 2^-14: a subnormal f16, an integer multiple of 2^-24 (exact in f32).
  if (a < 0x38800000u) { return sign | u32(bitcast<f32>(a) * 16777216.0); }
  return sign | ((a - 0x38000000u) >> 13u);
}
fn f16Texel(v: vec4f) -> vec2u {
  return vec2u(f16Bits(v.x) | (f16Bits(v.y) << 16u), f16Bits(v.z) | (f16Bits(v.w) << 16u));
}`
);
var MIRROR_WIDTH = 512;
var usesOperandFormat = (decl) => /^\s*(texture|operand)\b/.test(decl);
var pipelines = /* @__PURE__ */ new WeakMap();
async function compile(gpu, spec, source) {
  const device = gpu.device;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({
    code: source,
    label: spec.name
  });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: {
      module,
      entryPoint: "main"
    },
    label: spec.name
  });
  const error = await device.popErrorScope();
  if (error) {
    const numbered = source.split("\n").map((l3, i3) => `${String(i3 + 1).padStart(4)}  ${l3}`);
    throw new Error(`kernel ${spec.name} failed to compile: ${error.message}
${numbered.join("\n")}`);
  }
  return pipeline;
}
function getPipeline(gpu, spec) {
  let cache = pipelines.get(gpu.device);
  if (!cache) pipelines.set(gpu.device, cache = /* @__PURE__ */ new Map());
  const source = kernelSource(spec);
  let pipeline = cache.get(source);
  if (!pipeline) {
    pipeline = compile(gpu, spec, source);
    cache.set(source, pipeline);
  }
  return pipeline;
}
function packParams(spec, values) {
  const entries = Object.entries(spec.params ?? {});
  const data = new ArrayBuffer(Math.max(16, Math.ceil(entries.length * 4 / 16) * 16));
  const view = new DataView(data);
  entries.forEach(([name, type], i3) => {
    const v3 = values[name];
    if (v3 === void 0 || !Number.isFinite(v3) && type !== "f32") {
      throw new Error(`kernel ${spec.name}: parameter ${name} is ${v3}`);
    }
    if (type === "u32") view.setUint32(i3 * 4, v3, true);
    else if (type === "i32") view.setInt32(i3 * 4, v3, true);
    else view.setFloat32(i3 * 4, v3, true);
  });
  for (const name of Object.keys(values)) {
    if (!(name in (spec.params ?? {}))) {
      throw new Error(`kernel ${spec.name}: unknown param ${name}`);
    }
  }
  return data;
}
async function createDispatch(gpu, spec, buffers, workgroups, params3 = {}) {
  if (Object.values(spec.bindings).some(usesOperandFormat)) {
    spec = {
      ...spec,
      textureFormat: gpu.operandFormat
    };
  }
  const pipeline = await getPipeline(gpu, spec);
  const device = gpu.device;
  const entries = [];
  let binding = 0;
  let paramBuffer;
  if (Object.keys(spec.params ?? {}).length) {
    const data = packParams(spec, params3);
    paramBuffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: `${spec.name}.params`
    });
    trackAllocation(gpu, paramBuffer, data.byteLength);
    device.queue.writeBuffer(paramBuffer, 0, data);
    entries.push({
      binding: binding++,
      resource: {
        buffer: paramBuffer
      }
    });
  }
  let boundBytes = 0;
  const writes = [];
  for (const [name, decl] of Object.entries(spec.bindings)) {
    const b = buffers[name];
    if (!b) throw new Error(`kernel ${spec.name}: no buffer given for binding ${name}`);
    if (/^(operand\s+)?write\b/.test(decl.trim()) && !(b instanceof GPUTextureView)) {
      writes.push("buffer" in b ? {
        buffer: b.buffer,
        offset: b.offset,
        size: bindingSize(b)
      } : {
        buffer: b,
        offset: 0,
        size: b.size
      });
    }
    boundBytes += b instanceof GPUTextureView ? textureBytes.get(b) ?? 0 : "buffer" in b ? bindingSize(b) : b.size;
    const resource = b instanceof GPUTextureView ? b : "buffer" in b ? {
      buffer: b.buffer,
      offset: b.offset,
      size: bindingSize(b)
    } : {
      buffer: b
    };
    entries.push({
      binding: binding++,
      resource
    });
  }
  for (const name of Object.keys(buffers)) {
    if (!(name in spec.bindings)) throw new Error(`kernel ${spec.name}: unknown binding ${name}`);
  }
  const [x2, y3 = 1, z3 = 1] = workgroups;
  const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
  if ([
    x2,
    y3,
    z3
  ].some((n2) => !Number.isInteger(n2) || n2 < 0 || n2 > maxGroups)) {
    throw new Error(`kernel ${spec.name}: bad workgroup count [${x2}, ${y3}, ${z3}]`);
  }
  device.pushErrorScope("validation");
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries,
    label: spec.name
  });
  const error = await device.popErrorScope();
  if (error) throw new Error(`kernel ${spec.name}: bind group rejected: ${error.message}`);
  return {
    name: spec.name,
    pipeline,
    bindGroup,
    workgroups: [
      x2,
      y3,
      z3
    ],
    paramBuffer,
    params: paramBuffer ? {
      ...params3
    } : void 0,
    boundBytes,
    spec,
    writes
  };
}
function setParams(gpu, d3, params3) {
  if (!d3.paramBuffer) throw new Error(`kernel ${d3.name} has no parameters`);
  gpu.device.queue.writeBuffer(d3.paramBuffer, 0, packParams(d3.spec, params3));
  d3.params = {
    ...params3
  };
}
function grid1d(count, perGroup) {
  const groups2 = Math.max(1, Math.ceil(count / perGroup));
  if (groups2 <= 65535) return [
    groups2,
    1,
    1
  ];
  const y3 = Math.ceil(groups2 / 65535);
  return [
    Math.ceil(groups2 / y3),
    y3,
    1
  ];
}
function encode(encoder, dispatches) {
  let pass = null;
  for (const d3 of dispatches) {
    if (d3.copy) {
      pass?.end();
      pass = null;
      d3.copy(encoder);
      continue;
    }
    if (d3.workgroups[0] * d3.workgroups[1] * d3.workgroups[2] === 0) continue;
    pass ??= encoder.beginComputePass();
    pass.setPipeline(d3.pipeline);
    pass.setBindGroup(0, d3.bindGroup);
    pass.dispatchWorkgroups(...d3.workgroups);
  }
  pass?.end();
}
function withoutRedundantRefreshes(list, marks = []) {
  const current = /* @__PURE__ */ new Map();
  const kept = [];
  const position = [];
  for (const d3 of list) {
    position.push(kept.length);
    if (d3.refreshes) {
      let mirrors2 = current.get(d3.refreshes.buffer);
      if (mirrors2?.has(d3)) continue;
      if (!mirrors2) current.set(d3.refreshes.buffer, mirrors2 = /* @__PURE__ */ new Set());
      mirrors2.add(d3);
    } else if (!d3.writes) {
      current.clear();
    } else {
      for (const w3 of d3.writes) {
        for (const m3 of current.get(w3.buffer) ?? []) {
          const r3 = m3.refreshes;
          if (r3.offset < w3.offset + w3.size && w3.offset < r3.offset + r3.size) {
            current.get(w3.buffer).delete(m3);
          }
        }
      }
    }
    kept.push(d3);
  }
  position.push(kept.length);
  return {
    list: kept,
    marks: marks.map((i3) => position[i3])
  };
}

// gpu/ops/activation.ts
var WG = 64;
var siluForwardKernel = {
  name: "siluForward",
  params: {
    n: "u32"
  },
  bindings: {
    x: "read",
    y: "write"
  },
  consts: {
    WG
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  y[i] = v / (1.0 + exp(-v));
}`
  )
};
function siluForward(gpu, x2, y3) {
  return createDispatch(gpu, siluForwardKernel, {
    x: x2,
    y: y3
  }, grid1d(x2.size, WG), {
    n: x2.size
  });
}
function siluBackwardKernel(accumulate) {
  return {
    name: "siluBackward",
    params: {
      n: "u32"
    },
    bindings: {
      x: "read",
      dy: "read",
      dx: "write"
    },
    consts: {
      WG,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let v = x[i];
  let s = 1.0 / (1.0 + exp(-v));
  let g = dy[i] * s * (1.0 + v * (1.0 - s));
  if (ACCUMULATE) { dx[i] = dx[i] + g; } else { dx[i] = g; }
}`
    )
  };
}
function siluBackward(gpu, x2, dy, dx, accumulate = false) {
  return createDispatch(gpu, siluBackwardKernel(accumulate), {
    x: x2,
    dy,
    dx
  }, grid1d(x2.size, WG), {
    n: x2.size
  });
}
var ERFC_R_HALF_TO_2_5 = [
  0.36533404842640377,
  -0.1919384909707852,
  0.045756257522956915,
  -0.010084325230687828,
  0.002080569540687814,
  -4054756398509666e-19,
  7515242494378435e-20,
  -13317484945297126e-21,
  2265976638280634e-21,
  -37150564321956417e-23,
  5886037377052785e-23,
  -9031072722476966e-24,
  13188621139367835e-25
];
var ERFC_F_OF_INV_T = [
  0.5495480779807944,
  -0.018976192136099385,
  -0.00396076917174233,
  3966277443805777e-19,
  14914259537416593e-21,
  -7358281154270759e-21,
  5478078338808431e-22,
  8462651862154082e-23,
  -24489094788764934e-24,
  14663813694162687e-25,
  4498023282007e-22
];
function erfTaylorCoefficients(terms) {
  const out = [];
  let factorial = 1;
  for (let n2 = 0; n2 < terms; n2++) {
    if (n2 > 0) factorial *= n2;
    out.push(2 / Math.sqrt(Math.PI) * (n2 % 2 ? -1 : 1) / (factorial * (2 * n2 + 1)));
  }
  return out;
}
var f32Literal = (v3) => `${v3.toExponential(17)}f`;
function chebyshevWgsl(name, c3) {
  const steps = c3.slice(1).reverse().map((cj) => `  t = b1; b1 = ${f32Literal(cj)} + s2 * b1 - b2; b2 = t;`);
  return `fn ${name}(s: f32) -> f32 {
  let s2 = 2.0 * s;
  var b1 = 0.0; var b2 = 0.0; var t = 0.0;
${steps.join("\n")}
  return ${f32Literal(c3[0])} + s * b1 - b2;
}`;
}
function hornerWgsl(name, c3) {
  const expr = c3.slice(0, -1).reverse().reduce((acc, cj) => `${f32Literal(cj)} + z * (${acc})`, f32Literal(c3[c3.length - 1]));
  return `fn ${name}(z: f32) -> f32 { return ${expr}; }`;
}
var GELU_WGSL = (
  /* wgsl */
  `
${hornerWgsl("erf_taylor_in_t2", erfTaylorCoefficients(8))}
${chebyshevWgsl("erfc_r_half_to_2_5", ERFC_R_HALF_TO_2_5)}
${chebyshevWgsl("erfc_f_of_inv_t", ERFC_F_OF_INV_T)}
// exp(-x*x/2) to ~1 ulp. The builtin exp's error grows with its argument's size (exp(-18) is off by
// ~1e-6 on llvmpipe), so reduce first: x*x/2 = head^2/2 + tail, head = x's top 12 bits (exact
// square), then exp(y) = 2^k exp(r) with k*ln2 subtracted in two parts (Cody-Waite) and |r| < 0.35.
fn exp_neg_half_square(x: f32) -> f32 {
  let a = min(abs(x), 20.0); // exp(-200) is 0 in f32; the clamp keeps k finite
  let head = bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
  let y_head = -0.5 * head * head;
  let y_tail = -0.5 * (a - head) * (a + head);
  let k = round(y_head * 1.4426950408889634);
  let r = (y_head - k * 0.693145751953125) - k * 1.4286067653301870e-6 + y_tail;
  return ldexp(exp(r), i32(k));
}
fn normal_pdf(x: f32) -> f32 { return 0.3989422804014327 * exp_neg_half_square(x); }
fn normal_cdf(x: f32) -> f32 {
  let t = abs(x) * 0.7071067811865476;
  if (t < 0.5) {
    let s = x * 0.7071067811865476;
    return 0.5 + 0.5 * s * erf_taylor_in_t2(s * s);
  }
  var r: f32;
  if (t < 2.5) {
    r = erfc_r_half_to_2_5(t - 1.5);
  } else {
    let u = 1.0 / t;
    r = u * erfc_f_of_inv_t(5.0 * u - 1.0);
  }
  let tail = 0.5 * exp_neg_half_square(x) * r; // P(X > |x|)
  return select(1.0 - tail, tail, x < 0.0);
}
fn gelu(x: f32) -> f32 { return x * normal_cdf(x); }
fn gelu_grad(x: f32) -> f32 { return normal_cdf(x) + x * normal_pdf(x); }
`
);
var geluForwardKernel = {
  name: "geluForward",
  params: {
    n: "u32"
  },
  bindings: {
    x: "read",
    y: "write"
  },
  consts: {
    WG
  },
  code: (
    /* wgsl */
    `${GELU_WGSL}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  y[i] = gelu(x[i]);
}`
  )
};
function geluForward(gpu, x2, y3) {
  return createDispatch(gpu, geluForwardKernel, {
    x: x2,
    y: y3
  }, grid1d(x2.size, WG), {
    n: x2.size
  });
}
function geluBackwardKernel(accumulate) {
  return {
    name: "geluBackward",
    params: {
      n: "u32"
    },
    bindings: {
      x: "read",
      dy: "read",
      dx: "write"
    },
    consts: {
      WG,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `${GELU_WGSL}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let g = dy[i] * gelu_grad(x[i]);
  if (ACCUMULATE) { dx[i] = dx[i] + g; } else { dx[i] = g; }
}`
    )
  };
}
function geluBackward(gpu, x2, dy, dx, accumulate = false) {
  return createDispatch(gpu, geluBackwardKernel(accumulate), {
    x: x2,
    dy,
    dx
  }, grid1d(x2.size, WG), {
    n: x2.size
  });
}
var gegluForwardKernel = {
  name: "gegluForward",
  params: {
    rows: "u32",
    features: "u32"
  },
  bindings: {
    x: "read",
    y: "write"
  },
  consts: {
    WG
  },
  code: (
    /* wgsl */
    `${GELU_WGSL}
// x: [rows, 2F] = [a | g], y: [rows, F]
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows * p.features) { return; }
  let r = i / p.features;
  let a = r * 2u * p.features + (i - r * p.features);
  y[i] = x[a] * gelu(x[a + p.features]);
}`
  )
};
function gegluForward(gpu, args) {
  const { x: x2, y: y3, rows, features } = args;
  return createDispatch(gpu, gegluForwardKernel, {
    x: x2,
    y: y3
  }, grid1d(rows * features, WG), {
    rows,
    features
  });
}
function gegluBackwardKernel(accumulate) {
  return {
    name: "gegluBackward",
    params: {
      rows: "u32",
      features: "u32"
    },
    bindings: {
      x: "read",
      dy: "read",
      dx: "write"
    },
    consts: {
      WG,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `${GELU_WGSL}
// x, dx: [rows, 2F]; dy: [rows, F]. One invocation writes both halves of one output column.
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.rows * p.features) { return; }
  let r = i / p.features;
  let ia = r * 2u * p.features + (i - r * p.features);
  let ig = ia + p.features;
  let a = x[ia];
  let g = x[ig];
  let d = dy[i];
  let da = d * gelu(g);
  let dg = d * a * gelu_grad(g);
  if (ACCUMULATE) {
    dx[ia] = dx[ia] + da;
    dx[ig] = dx[ig] + dg;
  } else {
    dx[ia] = da;
    dx[ig] = dg;
  }
}`
    )
  };
}
function gegluBackward(gpu, args) {
  const { x: x2, dy, dx, rows, features, accumulate = false } = args;
  return createDispatch(gpu, gegluBackwardKernel(accumulate), {
    x: x2,
    dy,
    dx
  }, grid1d(rows * features, WG), {
    rows,
    features
  });
}

// gpu/runtime/random.ts
var RANDOM_WGSL = (
  /* wgsl */
  `
fn mul_hi_u32(a: u32, b: u32) -> u32 {
  // WGSL has no 64-bit integers: assemble the high word from 16-bit halves.
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lh = a0 * b1;
  let hl = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return a1 * b1 + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32(block: u32, step: u32, seed: u32, stream: u32) -> vec4u {
  var c = vec4u(block, step, 0u, 0u);
  var k = vec2u(seed, stream);
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mul_hi_u32(0xD2511F53u, c.x);
    let lo0 = 0xD2511F53u * c.x;
    let hi1 = mul_hi_u32(0xCD9E8D57u, c.z);
    let lo1 = 0xCD9E8D57u * c.z;
    c = vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

fn rand_u32(seed: u32, step: u32, stream: u32, counter: u32) -> u32 {
  return philox4x32(counter >> 2u, step, seed, stream)[counter & 3u];
}

fn rand_word_to_uniform(w: u32) -> f32 {
  return f32(w >> 8u) * 5.9604644775390625e-8;
}

fn rand_uniform(seed: u32, step: u32, stream: u32, counter: u32) -> f32 {
  return rand_word_to_uniform(rand_u32(seed, step, stream, counter));
}

fn rand_words_to_uniform4(w: vec4u) -> vec4f {
  return vec4f(w >> vec4u(8u)) * 5.9604644775390625e-8;
}

fn rand_words_to_normal4(w: vec4u) -> vec4f {
  // (w >> 8) + 1 makes the radius uniform in (0, 1], so log never sees 0.
  let u = (vec2f(vec2u(w.x, w.z) >> vec2u(8u)) + 1.0) * 5.9604644775390625e-8;
  let r = sqrt(-2.0 * log(u));
  // An angle in [-pi, pi), where WGSL's sin and cos are specified to be accurate.
  let theta = 6.283185307179586 * (vec2f(vec2u(w.y, w.w) >> vec2u(8u)) * 5.9604644775390625e-8 - 0.5);
  return vec4f(r.x * cos(theta.x), r.x * sin(theta.x), r.y * cos(theta.y), r.y * sin(theta.y));
}

fn rand_uniform4(seed: u32, step: u32, stream: u32, block: u32) -> vec4f {
  return rand_words_to_uniform4(philox4x32(block, step, seed, stream));
}

fn rand_normal4(seed: u32, step: u32, stream: u32, block: u32) -> vec4f {
  return rand_words_to_normal4(philox4x32(block, step, seed, stream));
}

fn rand_normal(seed: u32, step: u32, stream: u32, counter: u32) -> f32 {
  return rand_normal4(seed, step, stream, counter >> 2u)[counter & 3u];
}
`
);

// gpu/ops/dropout.ts
var WG2 = 64;
function dropoutKernel(accumulate) {
  return {
    name: "dropout",
    params: {
      n: "u32",
      stream: "u32",
      p: "f32",
      scale: "f32"
    },
    bindings: {
      seed: "read array<u32>",
      x: "read",
      y: "write"
    },
    consts: {
      WG: WG2,
      ACCUMULATE: accumulate
    },
    code: RANDOM_WGSL + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let block = flat_id(gid, nwg, WG);
  let first = block * 4u;
  if (first >= p.n) { return; }
  let u = rand_uniform4(seed[0], seed[1], p.stream, block);
  for (var j = 0u; j < 4u; j++) {
    let i = first + j;
    if (i < p.n) {
      // select, not multiply by 0: a dropped inf or NaN must not leak through.
      let g = select(0.0, x[i] * p.scale, u[j] >= p.p);
      if (ACCUMULATE) { y[i] = y[i] + g; } else { y[i] = g; }
    }
  }
}`
  };
}
function dropoutScale(p3) {
  if (!(p3 >= 0 && p3 <= 1)) throw new Error(`dropout: p = ${p3} is outside [0, 1]`);
  return p3 < 1 ? Math.fround(1 / Math.fround(1 - p3)) : 0;
}
var dropoutMaskWgsl = (v3, block) => `select(vec4f(0.0), ${v3} * p.scale, rand_uniform4(dropoutSeed.x, dropoutSeed.y, p.stream, ${block}) >= vec4f(p.p))`;
function dropout(gpu, x2, y3, { p: p3, seed, stream }, accumulate) {
  if (x2.size !== y3.size) throw new Error(`dropout: ${x2.size} inputs for ${y3.size} outputs`);
  const scale = dropoutScale(p3);
  return createDispatch(gpu, dropoutKernel(accumulate), {
    seed,
    x: x2,
    y: y3
  }, grid1d(Math.ceil(x2.size / 4), WG2), {
    n: x2.size,
    stream,
    p: p3,
    scale
  });
}
function dropoutForward(gpu, args) {
  return dropout(gpu, args.x, args.y, args, false);
}
function dropoutBackward(gpu, args) {
  return dropout(gpu, args.dy, args.dx, args, args.accumulate ?? false);
}
var maskRowsKernel = {
  name: "maskClassVectors",
  params: {
    n: "u32",
    cols: "u32",
    stream: "u32",
    keep: "f32"
  },
  bindings: {
    seed: "read array<u32>",
    x: "write"
  },
  consts: {
    WG: WG2
  },
  code: RANDOM_WGSL + /* wgsl */
  `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let row = i / p.cols;
  if (rand_uniform(seed[0], seed[1], p.stream, row) >= p.keep) { x[i] = 0.0; }
}`
};

// gpu/runtime/profile.ts
function isCpuAdapter(description, isFallback) {
  return isFallback || /llvmpipe|lavapipe|swiftshader|software/i.test(description);
}

// gpu/runtime/profiles/discrete_gpu.ts
var f32 = {
  tuning: "untuned",
  // Unused by f32 (every technique is "buffer"); the texture kernels' tile if a plan takes them.
  textureTile: {
    TM: 16,
    TN: 8,
    WGX: 8,
    WGY: 8
  },
  matmul: {
    technique: "buffer",
    // 264 workgroups: two waves of an H100's 132 SMs.
    splitK: {
      wantTiles: 264,
      minChunk: 256
    },
    bufferKernel: {
      kind: "workgroupTile",
      tile: 64,
      kTile: 16
    }
  },
  conv2d: {
    forward: "buffer",
    inputGrad: "buffer",
    weightGrad: "buffer",
    implicitGemmSplitK: {
      wantTiles: 64,
      minChunk: 512
    }
  }
};
var f16 = {
  tuning: "untuned",
  textureTile: {
    TM: 16,
    TN: 8,
    WGX: 8,
    WGY: 8
  },
  matmul: {
    technique: "texture",
    splitK: {
      wantTiles: 64,
      minChunk: 512
    },
    bufferKernel: {
      kind: "registerTile",
      tile: {
        TM: 16,
        TN: 16,
        WGX: 8,
        WGY: 1
      }
    }
  },
  conv2d: {
    forward: "texture",
    inputGrad: "texture",
    weightGrad: "texture",
    implicitGemmSplitK: {
      wantTiles: 64,
      minChunk: 512
    }
  }
};
var DISCRETE_GPU = {
  name: "discrete-gpu",
  summary: "GPUs: buffer kernels, 64-wide workgroups, 64x64 workgroup-memory GEMM tiles (f32)",
  matches: () => true,
  // f32 until the f16 texture kernels are measured against the f32 workgroup tiles on a GPU.
  autoPrecision: "f32",
  operands: {
    f32,
    f16
  },
  // Two warps wide; tens of thousands of invocations in flight.
  conv2d: {
    laneWidth: 64,
    weightGradSplitTarget: 65536
  },
  softmax: {
    laneWidth: 64
  },
  attention: {
    laneWidth: 64,
    mirrors: false
  },
  groupNorm: {
    reducer: "workgroup",
    workgroupSize: 256
  },
  bench: {
    timing: "timestamps",
    matmulGflops: 3e3
  }
};

// gpu/runtime/profiles/llvmpipe.ts
var operands = {
  tuning: "measured",
  // 16x12 outputs per invocation in 8x8 workgroups, or 16x8 where that pads N less (N = 64, 128,
  // im2col's 292): in one process on an AMD EPYC (2 cores), the compact step's GEMMs took 283 ms
  // against 312 with 16x8 everywhere (N = 96: 1.46x forward, 1.62x dX), im2col's the same.
  // 16x8 was the best of 4x4..16x16 measured alone on a 512^3 GEMM.
  textureTile: {
    TM: 16,
    TN: 12,
    WGX: 8,
    WGY: 8
  },
  textureTileChoices: [
    {
      TM: 16,
      TN: 8,
      WGX: 8,
      WGY: 8
    }
  ],
  matmul: {
    technique: "texture",
    // 64 invocations give 2+ cores work; a chunk under 512 of K is not worth a pass.
    splitK: {
      wantTiles: 64,
      minChunk: 512
    },
    // A pack of an aligned operand is a copy of its mirror into another layout: the GEMM reads the
    // mirror instead, for three integer ops a texel load.
    mirrorOperands: true,
    // Past the texture size limit: 16x16 outputs per invocation, 8 invocations along x.
    bufferKernel: {
      kind: "registerTile",
      tile: {
        TM: 16,
        TN: 16,
        WGX: 8,
        WGY: 1
      }
    }
  },
  conv2d: {
    forward: "texture",
    inputGrad: "texture",
    weightGrad: "texture",
    implicitGemmSplitK: {
      wantTiles: 64,
      minChunk: 512
    }
  }
};
var LLVMPIPE = {
  name: "llvmpipe",
  summary: "CPU adapters (llvmpipe, lavapipe, SwiftShader, fallback): texture-packed operands",
  matches: ({ description, isFallback }) => isCpuAdapter(description, isFallback),
  // f16 bought nothing: compact batch 32 trained at 2,362 ms a step in f16, 2,165 in f32.
  autoPrecision: "f32",
  operands: {
    f32: operands,
    f16: operands
  },
  // One 256-bit vector of f32 lanes; a few chunks per core.
  conv2d: {
    laneWidth: 8,
    weightGradSplitTarget: 1024
  },
  // Narrow workgroups win where x is the SIMD axis.
  softmax: {
    laneWidth: 16
  },
  attention: {
    laneWidth: 16,
    mirrors: true
  },
  // One invocation walks a whole group: the workgroup tree's seven barriers cost GroupNorm about
  // 40 % of its time here. 8 invocations: one SIMD vector.
  groupNorm: {
    reducer: "invocation",
    workgroupSize: 8
  },
  bench: {
    timing: "wall-clock",
    matmulGflops: 30
  }
};

// gpu/runtime/device.ts
var GpuUnavailableError = class extends Error {
  constructor(detail) {
    super(`No WebGPU adapter is available (${detail}).
  On a GPU host: install the GPU driver and the Vulkan loader (Debian: libvulkan1).
  Without a GPU: install Mesa's CPU drivers (Debian: apt-get install mesa-vulkan-drivers).`);
    this.name = "GpuUnavailableError";
  }
};
var PROFILES = [
  LLVMPIPE,
  DISCRETE_GPU
];
function profileFor(description, isFallback) {
  return PROFILES.find((p3) => p3.matches({
    description,
    isFallback
  })) ?? DISCRETE_GPU;
}
function precisionOf(gpu) {
  return gpu.operandFormat === "rgba16float" ? "f16" : "f32";
}
function operandPlan(gpu) {
  return gpu.profile.operands[precisionOf(gpu)];
}
function describe(info) {
  return info.description || [
    info.vendor,
    info.architecture,
    info.device
  ].filter(Boolean).join(" ") || "unknown adapter";
}
async function requestGpu(request = {}) {
  const { largeBuffers = true, timestamps = true } = request;
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError("this runtime has no navigator.gpu");
  }
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter({
      powerPreference: "high-performance"
    });
  } catch (e3) {
    throw new GpuUnavailableError(`requestAdapter failed: ${e3.message}`);
  }
  if (!adapter) throw new GpuUnavailableError("requestAdapter returned no adapter");
  const requiredFeatures = timestamps && adapter.features.has("timestamp-query") ? [
    "timestamp-query"
  ] : [];
  const requiredLimits = {};
  if (largeBuffers) {
    requiredLimits.maxStorageBufferBindingSize = adapter.limits.maxStorageBufferBindingSize;
    requiredLimits.maxBufferSize = adapter.limits.maxBufferSize;
  }
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits
  });
  device.addEventListener("uncapturederror", (event) => {
    const error = event.error;
    console.error(`GPU error: ${error.message}`);
  });
  device.lost.then((info2) => {
    if (info2.reason !== "destroyed") console.error(`GPU device lost: ${info2.message}`);
  });
  const info = adapter.info;
  const isFallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const description = describe(info);
  return {
    device,
    description,
    adapterKind: isCpuAdapter(description, isFallback) ? "cpu" : "gpu",
    profile: profileFor(description, isFallback),
    hasF16: adapter.features.has("shader-f16"),
    hasTimestamps: requiredFeatures.includes("timestamp-query"),
    limits: device.limits,
    operandFormat: "rgba32float"
  };
}

// gpu/runtime/wgsl.ts
var range = (n2) => [
  ...Array(n2).keys()
];
var each = (items, f4) => items.map(f4).join("\n  ");
var pairs = (n2, m3) => range(n2).flatMap((a4) => range(m3).map((b) => [
  a4,
  b
]));
var XYZW = "xyzw";
var f32Array = (vec4) => vec4 ? "array<vec4<f32>>" : "array<f32>";

// gpu/ops/matmul/buffer.ts
var params = {
  M: "u32",
  N: "u32",
  K: "u32",
  strideA: "u32",
  strideB: "u32",
  strideC: "u32",
  splits: "u32",
  kChunk: "u32"
};
function registerTileKernel(tile, f4) {
  const { TM, TN, WGX, WGY } = tile;
  const J2 = TN / 4;
  const ldA = f4.vecA ? (i3) => `a[(${i3}) >> 2u][(${i3}) & 3u]` : (i3) => `a[${i3}]`;
  const ldB = f4.vecB ? (i3) => `b[(${i3}) >> 2u][(${i3}) & 3u]` : (i3) => `b[${i3}]`;
  const quad = (ld, idx) => `vec4f(${range(4).map((q2) => ld(idx(q2))).join(", ")})`;
  const L2 = [];
  for (const i3 of range(TM)) {
    L2.push(f4.transA ? `let cA${i3} = aBase + min(m0 + ${i3}u, p.M - 1u);` : `let rA${i3} = aBase + min(m0 + ${i3}u, p.M - 1u) * p.K;`);
  }
  for (const q2 of range(TN)) {
    L2.push(f4.transB ? `let rB${q2} = bBase + min(n0 + ${q2}u, p.N - 1u) * p.K;` : `let cB${q2} = bBase + min(n0 + ${q2}u, p.N - 1u);`);
  }
  for (const i3 of range(TM)) for (const j2 of range(J2)) L2.push(`var acc${i3}_${j2} = vec4f(0.0);`);
  L2.push("let MA4 = p.M >> 2u; let NB4 = p.N >> 2u;");
  L2.push("var k = kBegin;");
  L2.push("for (; k + 4u <= kEnd; k += 4u) {");
  const k4 = "(k >> 2u)";
  let aAt;
  if (!f4.transA) {
    for (const i3 of range(TM)) {
      L2.push(`  let a${i3} = ${f4.vecA ? `a[(rA${i3} >> 2u) + ${k4}]` : quad(ldA, (q2) => `rA${i3} + k + ${q2}u`)};`);
    }
    aAt = (i3, kk) => `a${i3}.${XYZW[kk]}`;
  } else {
    for (const kk of range(4)) {
      for (const g3 of range(TM / 4)) {
        L2.push(`  let a${kk}_${g3} = ${f4.vecA ? `a[(k + ${kk}u) * MA4 + (cA${4 * g3} >> 2u)]` : quad(ldA, (q2) => `(k + ${kk}u) * p.M + cA${4 * g3 + q2}`)};`);
      }
    }
    aAt = (i3, kk) => `a${kk}_${i3 >> 2}.${XYZW[i3 & 3]}`;
  }
  if (!f4.transB) {
    for (const kk of range(4)) {
      for (const j2 of range(J2)) {
        L2.push(`  let b${kk}_${j2} = ${f4.vecB ? `b[(k + ${kk}u) * NB4 + (cB${4 * j2} >> 2u)]` : quad(ldB, (q2) => `(k + ${kk}u) * p.N + cB${4 * j2 + q2}`)};`);
      }
    }
  } else {
    for (const q2 of range(TN)) {
      L2.push(`  let bt${q2} = ${f4.vecB ? `b[(rB${q2} >> 2u) + ${k4}]` : quad(ldB, (r3) => `rB${q2} + k + ${r3}u`)};`);
    }
    for (const kk of range(4)) {
      for (const j2 of range(J2)) {
        L2.push(`  let b${kk}_${j2} = vec4f(${range(4).map((q2) => `bt${4 * j2 + q2}.${XYZW[kk]}`).join(", ")});`);
      }
    }
  }
  for (const kk of range(4)) {
    for (const i3 of range(TM)) {
      for (const j2 of range(J2)) {
        L2.push(`  acc${i3}_${j2} = fma(vec4f(${aAt(i3, kk)}), b${kk}_${j2}, acc${i3}_${j2});`);
      }
    }
  }
  L2.push("}");
  L2.push("for (; k < kEnd; k++) {");
  for (const i3 of range(TM)) {
    L2.push(`  let s${i3} = ${ldA(f4.transA ? `k * p.M + cA${i3}` : `rA${i3} + k`)};`);
  }
  for (const j2 of range(J2)) {
    L2.push(`  let t${j2} = ${quad(ldB, (q2) => f4.transB ? `rB${4 * j2 + q2} + k` : `k * p.N + cB${4 * j2 + q2}`)};`);
  }
  for (const i3 of range(TM)) {
    for (const j2 of range(J2)) L2.push(`  acc${i3}_${j2} = fma(vec4f(s${i3}), t${j2}, acc${i3}_${j2});`);
  }
  L2.push("}");
  L2.push(...storeTileWgsl(TM, J2, f4));
  const bindings = {
    a: `read ${f32Array(f4.vecA)}`,
    b: `read ${f32Array(f4.vecB)}`
  };
  if (f4.bias) bindings.bias = `read ${f32Array(f4.vecC)}`;
  bindings.c = `write ${f32Array(f4.vecC)}`;
  return {
    name: "matmulRegisterTile",
    params,
    bindings,
    consts: {
      TM,
      TN,
      WGX,
      WGY,
      ACCUMULATE: f4.accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WGX, WGY) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * TN;
  let m0 = gid.y * TM;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let item = z / p.splits;
  let kBegin = (z - item * p.splits) * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let aBase = item * p.strideA;
  let bBase = item * p.strideB;
  ${L2.join("\n  ")}
}`
    )
  };
}
function workgroupTileKernel(tile, kTile, f4) {
  if (tile !== 64 || tile * kTile % 256 !== 0) {
    throw new Error(`matmul: workgroup tile ${tile} x ${kTile} (the kernel is written for 64 x 4k)`);
  }
  const bindings = {
    a: "read",
    b: "read"
  };
  if (f4.bias) bindings.bias = "read";
  bindings.c = "write";
  return {
    name: "matmulWorkgroupTile",
    params,
    bindings,
    consts: {
      TILE: tile,
      KT: kTile,
      TRANS_A: f4.transA,
      TRANS_B: f4.transB,
      ACCUMULATE: f4.accumulate
    },
    code: (
      /* wgsl */
      `
var<workgroup> As: array<array<f32, TILE>, KT>; // [k][m]
var<workgroup> Bs: array<array<f32, TILE>, KT>; // [k][n]

@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wid: vec3u,
                                        @builtin(local_invocation_id) lid: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let z = wid.z;
  let item = z / p.splits;
  let kBegin = (z - item * p.splits) * p.kChunk;
  let kEnd = min(p.K, kBegin + p.kChunk);
  let aBase = item * p.strideA;
  let bBase = item * p.strideB;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = kBegin; k0 < kEnd; k0 += KT) {
    for (var r = 0u; r < TILE * KT / 256u; r++) {
      let e = t + 256u * r;
      // Consecutive threads read consecutive addresses of whichever axis is contiguous.
      var kk: u32; var mm: u32; var kb: u32; var nn: u32;
      if (TRANS_A) { mm = e % TILE; kk = e / TILE; } else { kk = e % KT; mm = e / KT; }
      if (TRANS_B) { kb = e % KT; nn = e / KT; } else { nn = e % TILE; kb = e / TILE; }
      let gm = m0 + mm; let gk = k0 + kk;
      var av = 0.0;
      if (gm < p.M && gk < kEnd) {
        if (TRANS_A) { av = a[aBase + gk * p.M + gm]; } else { av = a[aBase + gm * p.K + gk]; }
      }
      As[kk][mm] = av;
      let gn = n0 + nn; let gkb = k0 + kb;
      var bv = 0.0;
      if (gn < p.N && gkb < kEnd) {
        if (TRANS_B) { bv = b[bBase + gn * p.K + gkb]; } else { bv = b[bBase + gkb * p.N + gn]; }
      }
      Bs[kb][nn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KT; kk++) {
      var av: array<f32, 4>; var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk][lid.y + 16u * i]; bv[i] = Bs[kk][lid.x + 16u * i]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + lid.x + 16u * j;
      if (m < p.M && n < p.N) {
        let o = z * p.strideC + m * p.N + n;
        var v = acc[i][j];
        ${f4.bias ? "v += bias[n];" : ""}
        if (ACCUMULATE) { v += c[o]; }
        c[o] = v;
      }
    }
  }
}`
    )
  };
}
function bufferGemm(gpu, kernel, g3) {
  const [spec, tileM, tileN] = kernel.kind === "registerTile" ? [
    registerTileKernel(kernel.tile, g3.flags),
    kernel.tile.TM * kernel.tile.WGY,
    kernel.tile.TN * kernel.tile.WGX
  ] : [
    workgroupTileKernel(kernel.tile, kernel.kTile, g3.flags),
    kernel.tile,
    kernel.tile
  ];
  const buffers = {
    a: g3.a,
    b: g3.b,
    c: g3.c
  };
  if (g3.bias) buffers.bias = g3.bias;
  return createDispatch(gpu, spec, buffers, [
    Math.ceil(g3.p.N / tileN),
    Math.ceil(g3.p.M / tileM),
    g3.items * g3.p.splits
  ], g3.p);
}
function storeTileWgsl(TM, J2, f4) {
  const L2 = [];
  L2.push("let cBase = z * p.strideC;");
  for (const i3 of range(TM)) {
    L2.push(`if (m0 + ${i3}u < p.M) {`, `  let row = cBase + (m0 + ${i3}u) * p.N + n0;`);
    for (const j2 of range(J2)) {
      if (f4.vecC) {
        L2.push(`  if (n0 + ${4 * j2}u < p.N) {`, `    var v = acc${i3}_${j2};`);
        if (f4.bias) L2.push(`    v += bias[(n0 >> 2u) + ${j2}u];`);
        L2.push(`    let o = (row >> 2u) + ${j2}u;`, "    if (ACCUMULATE) { v += c[o]; }", "    c[o] = v;", "  }");
      } else {
        for (const q2 of range(4)) {
          const n2 = 4 * j2 + q2;
          L2.push(`  if (n0 + ${n2}u < p.N) {`, `    var v = acc${i3}_${j2}.${XYZW[q2]};`);
          if (f4.bias) L2.push(`    v += bias[n0 + ${n2}u];`);
          L2.push(`    if (ACCUMULATE) { v += c[row + ${n2}u]; }`, `    c[row + ${n2}u] = v;`, "  }");
        }
      }
    }
    L2.push("}");
  }
  return L2;
}

// gpu/ops/mirror.ts
var mirrors = /* @__PURE__ */ new WeakMap();
function mirror(gpu, t3) {
  if (t3.dtype !== "f32" || t3.size % 4 !== 0) {
    throw new Error(`mirror: ${t3.label} must be f32 with a multiple of 4 elements`);
  }
  const owner = gpu.allocations ?? gpu.device;
  let byBuffer = mirrors.get(owner);
  if (!byBuffer) mirrors.set(owner, byBuffer = /* @__PURE__ */ new WeakMap());
  let byView = byBuffer.get(t3.buffer);
  if (!byView) byBuffer.set(t3.buffer, byView = /* @__PURE__ */ new Map());
  const key = `${t3.offset}:${t3.size}`;
  let m3 = byView.get(key);
  if (!m3) byView.set(key, m3 = createMirror(gpu, t3));
  return m3;
}
function createMirror(gpu, t3) {
  const texels = t3.size / 4;
  const full = Math.floor(texels / MIRROR_WIDTH);
  const rest = texels - full * MIRROR_WIDTH;
  const rows = full + (rest ? 1 : 0);
  if (rows > gpu.limits.maxTextureDimension2D) {
    throw new Error(`mirror: ${t3.label} [${t3.shape}] exceeds the texture size limit`);
  }
  const texture = gpu.device.createTexture({
    size: [
      MIRROR_WIDTH,
      rows
    ],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label: `mirror.${t3.label}`
  });
  trackAllocation(gpu, texture, MIRROR_WIDTH * rows * 16);
  const view = texture.createView();
  registerTextureBytes(view, t3.size * 4);
  const bytesPerRow = MIRROR_WIDTH * 16;
  const effects = {
    writes: [],
    refreshes: {
      buffer: t3.buffer,
      offset: t3.offset,
      size: t3.size * 4
    }
  };
  const refresh = copyStep("copyToMirror", t3.size * 4, (encoder) => {
    const source = {
      buffer: t3.buffer,
      bytesPerRow
    };
    if (full) {
      encoder.copyBufferToTexture({
        ...source,
        offset: t3.offset
      }, {
        texture
      }, [
        MIRROR_WIDTH,
        full
      ]);
    }
    if (rest) {
      encoder.copyBufferToTexture({
        ...source,
        offset: t3.offset + full * bytesPerRow
      }, {
        texture,
        origin: [
          0,
          full
        ]
      }, [
        rest,
        1
      ]);
    }
  }, effects);
  return {
    view,
    refresh
  };
}

// gpu/ops/matmul/tile.ts
function gemmTile(gpu, N2) {
  const plan = operandPlan(gpu);
  const padded = (t3) => Math.ceil(N2 / (t3.TN * t3.WGX)) * t3.TN * t3.WGX;
  let best = plan.textureTile;
  for (const t3 of plan.textureTileChoices ?? []) if (padded(t3) < padded(best)) best = t3;
  return best;
}

// gpu/ops/matmul/operand_reads.ts
var PACKED = {
  a: "packed",
  b: "packed"
};
function loadsOfA(read, TM) {
  if (read === "packed") {
    return {
      loads: range(TM).map((i3) => `let a${i3} = textureLoad(tA, vec2u(k4, aRow + ${i3}u));`),
      value: (i3, kk) => `a${i3}.${XYZW[kk]}`
    };
  }
  if (read === "mirror") {
    return {
      loads: range(TM).map((i3) => `let a${i3} = load_tA(aAt + ${i3}u * p.K4 + k4);`),
      value: (i3, kk) => `a${i3}.${XYZW[kk]}`
    };
  }
  const loads = [];
  for (const g3 of range(TM / 4)) {
    for (const kk of range(4)) {
      loads.push(`let aT${g3}_${kk} = load_tA(aAt + (k4 * 4u + ${kk}u) * p.rowTexelsA + ${g3}u);`);
    }
  }
  return {
    loads,
    value: (i3, kk) => `aT${i3 >> 2}_${kk}.${XYZW[i3 & 3]}`
  };
}
function loadsOfB(read, TN, custom) {
  const J2 = TN / 4;
  const L2 = [];
  if (read === "mirrorTransposed") {
    for (const n2 of range(TN)) L2.push(`let bT${n2} = load_tB(bAt + ${n2}u * p.K4 + k4);`);
    for (const kk of range(4)) {
      for (const j2 of range(J2)) {
        const parts = range(4).map((q2) => `bT${4 * j2 + q2}.${XYZW[kk]}`);
        L2.push(`let b${kk}_${j2} = vec4f(${parts.join(", ")});`);
      }
    }
    return L2;
  }
  for (const kk of range(4)) {
    for (const j2 of range(J2)) {
      const load = custom ? custom(kk, j2) : read === "mirror" ? `load_tB(bAt + (k4 * 4u + ${kk}u) * p.rowTexelsB + ${j2}u)` : `textureLoad(tB, vec2u(nt + ${j2}u, bRow + k4 * 4u + ${kk}u))`;
      L2.push(`let b${kk}_${j2} = ${load};`);
    }
  }
  return L2;
}
var MIRROR_PARAMS = {
  itemTexelsA: "u32",
  itemTexelsB: "u32",
  rowTexelsA: "u32",
  rowTexelsB: "u32"
};
var readName = (read) => read === "packed" ? "p" : read === "mirror" ? "m" : "t";
function mirrorable(gpu, x2, o4) {
  const rows = Math.ceil(x2.size / 4 / MIRROR_WIDTH);
  return !!operandPlan(gpu).matmul.mirrorOperands && gpu.operandFormat === "rgba32float" && x2.dtype === "f32" && x2.size % 4 === 0 && rows <= gpu.limits.maxTextureDimension2D && o4.K % 4 === 0 && o4.rowLength % 4 === 0 && o4.stride % 4 === 0 && o4.tile % 4 === 0;
}
var rowLengths = (g3) => ({
  a: g3.transA ? g3.M : g3.K,
  b: g3.transB ? g3.K : g3.N
});
function operandReads(gpu, g3) {
  const { TM, TN } = gemmTile(gpu, g3.N);
  const rows = rowLengths(g3);
  const a4 = mirrorable(gpu, g3.a, {
    rowLength: rows.a,
    K: g3.K,
    stride: g3.strideA,
    tile: TM
  });
  const b = mirrorable(gpu, g3.b, {
    rowLength: rows.b,
    K: g3.K,
    stride: g3.strideB,
    tile: TN
  });
  const read = (ok, trans) => !ok ? "packed" : trans ? "mirrorTransposed" : "mirror";
  return {
    a: read(a4, g3.transA),
    b: read(b, g3.transB)
  };
}
function mirrorParams(g3) {
  const rows = rowLengths(g3);
  return {
    itemTexelsA: g3.strideA / 4,
    itemTexelsB: g3.strideB / 4,
    rowTexelsA: rows.a / 4,
    rowTexelsB: rows.b / 4
  };
}

// gpu/ops/matmul/texture.ts
var packParams2 = {
  R: "u32",
  C: "u32",
  itemRows: "u32",
  stride: "u32",
  width: "u32",
  height: "u32",
  tPitch: "u32"
};
function packKernel(trans, vec4) {
  return {
    name: "matmulPackTexture",
    params: {
      ...packParams2
    },
    bindings: {
      x: vec4 ? "read array<vec4<f32>>" : "read",
      t: "operand write"
    },
    consts: {
      TRANS: trans
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let xy = select(gid.xy, gid.yx, TRANS);
  if (xy.x >= p.width || xy.y >= p.height) { return; }
  let item = xy.y / p.itemRows;
  let r = xy.y - item * p.itemRows;
  let base = item * p.stride;
  var v = vec4f(0.0);
  if (r < p.R) {
    ${vec4 ? "if (xy.x * 4u < p.C) { v = x[(base + r * p.C) / 4u + xy.x]; }" : `for (var q = 0u; q < 4u; q++) {
      let c = xy.x * 4u + q;
      // X stored [R, C], or [C, R] when transposed.
      if (c < p.C) { v[q] = x[base + select(r * p.C + c, c * p.R + r, TRANS)]; }
    }`}
  }
  store_t(xy, v);
}`
    )
  };
}
function packMirrorKernel(trans) {
  return {
    name: "matmulPackTexture",
    params: {
      R: "u32",
      C: "u32",
      itemRows: "u32",
      stride4: "u32",
      width: "u32",
      tPitch: "u32"
    },
    bindings: {
      x: "mirror read",
      t: "operand write"
    },
    code: trans ? (
      /* wgsl */
      `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * 4u;
  if (gid.x >= p.width || r0 >= p.R) { return; }
  let c = gid.x * 4u;
  let rows4 = p.R / 4u;
  let at = gid.z * p.stride4 + r0 / 4u + c * rows4;
  let zero = vec4f(0.0);
  let v0 = load_x(at);
  let v1 = select(zero, load_x(at + rows4), c + 1u < p.C);
  let v2 = select(zero, load_x(at + 2u * rows4), c + 2u < p.C);
  let v3 = select(zero, load_x(at + 3u * rows4), c + 3u < p.C);
  let y0 = gid.z * p.itemRows + r0;
  store_t(vec2u(gid.x, y0), vec4f(v0.x, v1.x, v2.x, v3.x));
  store_t(vec2u(gid.x, y0 + 1u), vec4f(v0.y, v1.y, v2.y, v3.y));
  store_t(vec2u(gid.x, y0 + 2u), vec4f(v0.z, v1.z, v2.z, v3.z));
  store_t(vec2u(gid.x, y0 + 3u), vec4f(v0.w, v1.w, v2.w, v3.w));
}`
    ) : (
      /* wgsl */
      `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.R) { return; }
  let v = load_x(gid.z * p.stride4 + gid.y * (p.C / 4u) + gid.x);
  store_t(vec2u(gid.x, gid.z * p.itemRows + gid.y), v);
}`
    )
  };
}
function textureTileKernel(tile, f4, operandB, reads = PACKED, epilogue) {
  const { TM, TN } = tile;
  const J2 = TN / 4;
  const A3 = loadsOfA(reads.a, TM);
  const L2 = [];
  for (const i3 of range(TM)) for (const j2 of range(J2)) L2.push(`var acc${i3}_${j2} = vec4f(0.0);`);
  L2.push("for (var k4 = k4Begin; k4 < k4End; k4++) {");
  if (operandB) L2.push(operandB.step);
  L2.push(...A3.loads.map((l3) => `  ${l3}`));
  L2.push(...loadsOfB(reads.b, TN, operandB?.load).map((l3) => `  ${l3}`));
  for (const i3 of range(TM)) {
    for (const j2 of range(J2)) {
      for (const kk of range(4)) {
        L2.push(`  acc${i3}_${j2} = fma(vec4f(${A3.value(i3, kk)}), b${kk}_${j2}, acc${i3}_${j2});`);
      }
    }
  }
  L2.push("}");
  L2.push(...epilogue ? epilogue.code(TM, J2) : storeTileWgsl(TM, J2, f4));
  const vt = f4.vecC ? "array<vec4<f32>>" : "array<f32>";
  const binding = (read) => read === "packed" ? "texture read" : "mirror read";
  const bindings = {
    tA: binding(reads.a),
    tB: binding(reads.b)
  };
  if (f4.bias) bindings.bias = `read ${vt}`;
  if (epilogue) Object.assign(bindings, epilogue.bindings);
  else bindings.c = `write ${vt}`;
  const setup = [];
  if (reads.a === "mirror") setup.push("let aAt = item * p.itemTexelsA + m0 * p.K4;");
  if (reads.a === "mirrorTransposed") setup.push("let aAt = item * p.itemTexelsA + (m0 >> 2u);");
  if (reads.b === "mirror") setup.push("let bAt = item * p.itemTexelsB + nt;");
  if (reads.b === "mirrorTransposed") setup.push("let bAt = item * p.itemTexelsB + n0 * p.K4;");
  const mirrored2 = reads.a !== "packed" || reads.b !== "packed";
  const suffix = mirrored2 ? `.${readName(reads.a)}${readName(reads.b)}` : "";
  return {
    name: (operandB ? `matmulTextureTile.${operandB.name}` : "matmulTextureTile") + suffix + (epilogue ? `.${epilogue.name}` : ""),
    params: {
      M: "u32",
      N: "u32",
      K4: "u32",
      itemRowsA: "u32",
      itemRowsB: "u32",
      strideC: "u32",
      splits: "u32",
      kChunk4: "u32",
      ...mirrored2 ? MIRROR_PARAMS : {},
      ...operandB?.params,
      ...epilogue?.params
    },
    bindings,
    consts: {
      TM,
      TN,
      WGX: tile.WGX,
      WGY: tile.WGY,
      ACCUMULATE: f4.accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WGX, WGY) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * TN;
  let m0 = gid.y * TM;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let item = z / p.splits;
  let k4Begin = (z - item * p.splits) * p.kChunk4;
  let k4End = min(p.K4, k4Begin + p.kChunk4);
  // itemRows is 0 for a broadcast operand (batch stride 0): every item reads item 0.
  let aRow = item * p.itemRowsA + m0;
  let bRow = item * p.itemRowsB;
  let nt = n0 >> 2u;
  ${setup.join("\n  ")}
  ${operandB?.setup ?? ""}
  ${L2.join("\n  ")}
}`
    )
  };
}
function textureShapes(g3, tile) {
  const Mp = Math.ceil(g3.M / tile.TM) * tile.TM;
  const K4 = Math.ceil(g3.K / 4);
  const Np = Math.ceil(g3.N / tile.TN) * tile.TN;
  const itemsA = g3.strideA === 0 ? 1 : g3.batch;
  const itemsB = g3.strideB === 0 ? 1 : g3.batch;
  return {
    Mp,
    K4,
    Np,
    itemsA,
    itemsB,
    a: [
      K4,
      itemsA * Mp
    ],
    b: [
      Np / 4,
      itemsB * K4 * 4
    ]
  };
}
var texturesFit = (gpu, ...sizes) => sizes.every(([w3, h3]) => w3 <= gpu.limits.maxTextureDimension2D && h3 <= gpu.limits.maxTextureDimension2D);
function textureOperandsFit(gpu, g3) {
  const s3 = textureShapes(g3, gemmTile(gpu, g3.N));
  return texturesFit(gpu, s3.a, s3.b);
}
var texelBytes = (gpu) => gpu.operandFormat === "rgba16float" ? 8 : 16;
function operandTexture(gpu, size, label) {
  const [width, height] = size;
  const bytes = texelBytes(gpu);
  const pitch = Math.ceil(width * bytes / 256) * (256 / bytes);
  const texture = gpu.device.createTexture({
    size: [
      width,
      height
    ],
    format: gpu.operandFormat,
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label
  });
  trackAllocation(gpu, texture, width * height * bytes);
  const view = texture.createView();
  registerTextureBytes(view, width * height * bytes);
  const staging = createTensor(gpu, [
    height * pitch * (bytes / 4)
  ], "u32", `${label}.staging`);
  const upload2 = copyStep("copyToTexture", width * height * bytes, (encoder) => encoder.copyBufferToTexture({
    buffer: staging.buffer,
    offset: staging.offset,
    bytesPerRow: pitch * bytes,
    rowsPerImage: height
  }, {
    texture
  }, [
    width,
    height
  ]), {
    writes: []
  });
  return {
    view,
    size: [
      width,
      height
    ],
    staging,
    pitch,
    upload: upload2
  };
}
async function textureMatmul(gpu, g3) {
  const tile = gemmTile(gpu, g3.N);
  const s3 = textureShapes(g3, tile);
  const reads = operandReads(gpu, g3);
  const pack = async (x2, size, label, o4) => {
    const t3 = operandTexture(gpu, size, label);
    const [width, height] = t3.size;
    const itemRows = height / o4.items;
    const params3 = {
      R: o4.R,
      C: o4.C,
      itemRows,
      stride: o4.stride,
      width,
      height,
      tPitch: t3.pitch
    };
    const buffers = {
      x: x2,
      t: t3.staging
    };
    if ((o4.trans ? o4.R : o4.C) % 4 === 0 && o4.stride % 4 === 0 && x2.size % 4 === 0) {
      const columns = Math.ceil(o4.C / 4);
      const xm = mirror(gpu, x2);
      const mirrorParams2 = {
        R: o4.R,
        C: o4.C,
        itemRows,
        stride4: o4.stride / 4,
        width: columns
      };
      return {
        view: t3.view,
        steps: [
          xm.refresh,
          await createDispatch(gpu, packMirrorKernel(o4.trans), {
            x: xm.view,
            t: t3.staging
          }, [
            Math.ceil(columns / 16),
            Math.ceil((o4.trans ? o4.R / 4 : o4.R) / 4),
            o4.items
          ], {
            ...mirrorParams2,
            tPitch: t3.pitch
          }),
          t3.upload
        ]
      };
    }
    const vec4 = !o4.trans && o4.C % 4 === 0 && o4.stride % 4 === 0;
    const groups2 = o4.trans ? [
      Math.ceil(height / 8),
      Math.ceil(width / 8)
    ] : [
      Math.ceil(width / 8),
      Math.ceil(height / 8)
    ];
    return {
      view: t3.view,
      steps: [
        await createDispatch(gpu, packKernel(o4.trans, vec4), buffers, groups2, params3),
        t3.upload
      ]
    };
  };
  const read = async (x2, how, size, label, o4) => {
    if (how === "packed") return await pack(x2, size, label, o4);
    const xm = mirror(gpu, x2);
    return {
      view: xm.view,
      steps: [
        xm.refresh
      ]
    };
  };
  const packA = await read(g3.a, reads.a, s3.a, "matmul.packedA", {
    trans: g3.transA,
    R: g3.M,
    C: g3.K,
    items: s3.itemsA,
    stride: g3.strideA
  });
  const packB = await read(g3.b, reads.b, s3.b, "matmul.packedB", {
    trans: g3.transB,
    R: g3.K,
    C: g3.N,
    items: s3.itemsB,
    stride: g3.strideB
  });
  const gemm = await textureGemm(gpu, {
    tA: packA.view,
    tB: packB.view,
    c: g3.c,
    bias: g3.bias,
    M: g3.M,
    N: g3.N,
    K4: s3.K4,
    itemRowsA: g3.strideA === 0 ? 0 : s3.Mp,
    itemRowsB: g3.strideB === 0 ? 0 : s3.K4 * 4,
    strideC: g3.strideC,
    items: g3.batch,
    splits: g3.splits,
    kChunk4: g3.kChunk / 4,
    flags: g3.flags,
    reads,
    operandParams: reads.a === "packed" && reads.b === "packed" ? void 0 : mirrorParams(g3),
    tile
  });
  const packedB = g3.bIsParameter ? hoisted(packB.steps) : packB.steps;
  return [
    ...packA.steps,
    ...packedB,
    gemm
  ];
}
function textureGemm(gpu, g3) {
  const tile = g3.tile ?? operandPlan(gpu).textureTile;
  const [epilogue, outputs] = "epilogue" in g3.c ? [
    g3.c.epilogue,
    g3.c.buffers
  ] : [
    void 0,
    {
      c: g3.c
    }
  ];
  const buffers = {
    tA: g3.tA,
    tB: g3.tB,
    ...outputs
  };
  if (g3.bias) buffers.bias = g3.bias;
  const kernel = textureTileKernel(tile, g3.flags, g3.operandB, g3.reads, epilogue);
  return createDispatch(gpu, kernel, buffers, [
    Math.ceil(g3.N / (tile.TN * tile.WGX)),
    Math.ceil(g3.M / (tile.TM * tile.WGY)),
    g3.items * g3.splits
  ], {
    M: g3.M,
    N: g3.N,
    K4: g3.K4,
    itemRowsA: g3.itemRowsA,
    itemRowsB: g3.itemRowsB,
    strideC: g3.strideC,
    splits: g3.splits,
    kChunk4: g3.kChunk4,
    ...g3.operandParams
  });
}

// gpu/ops/matmul/matmul.ts
function splitReduceKernel(bias, accumulate) {
  const bindings = {
    partial: "read"
  };
  if (bias) bindings.bias = "read";
  bindings.c = "write";
  return {
    name: "matmulSplitReduce",
    params: {
      total: "u32",
      mn: "u32",
      N: "u32",
      splits: "u32",
      strideC: "u32"
    },
    bindings,
    consts: {
      WG: 64,
      BIAS: bias,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.total) { return; }
  let item = i / p.mn;
  let r = i - item * p.mn;
  // partial: [batch, splits, M, N]
  var s = 0.0;
  for (var q = 0u; q < p.splits; q++) { s += partial[(item * p.splits + q) * p.mn + r]; }
  ${bias ? "s += bias[r % p.N];" : ""}
  let o = item * p.strideC + r;
  if (ACCUMULATE) { s += c[o]; }
  c[o] = s;
}`
    )
  };
}
function chooseSplits(tiles, K2, s3) {
  if (tiles >= s3.wantTiles || K2 < 2 * s3.minChunk) return 1;
  return Math.max(1, Math.min(Math.ceil(s3.wantTiles / tiles), Math.floor(K2 / s3.minChunk), 32));
}
function kChunks(K2, splits) {
  const kChunk = Math.ceil(K2 / splits / 4) * 4;
  return {
    splits: Math.ceil(K2 / kChunk),
    kChunk
  };
}
function outputTiles(gpu, M2, N2, batch) {
  const plan = operandPlan(gpu);
  const kernel = plan.matmul.bufferKernel;
  const texture = plan.matmul.technique === "texture" ? gemmTile(gpu, N2) : null;
  const [tm, tn] = texture ? [
    texture.TM,
    texture.TN
  ] : kernel.kind === "registerTile" ? [
    kernel.tile.TM,
    kernel.tile.TN
  ] : [
    kernel.tile,
    kernel.tile
  ];
  return Math.ceil(M2 / tm) * Math.ceil(N2 / tn) * batch;
}
async function matmul(gpu, args) {
  const { a: a4, b, c: c3, M: M2, N: N2, K: K2, bias } = args;
  const batch = args.batch ?? 1;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const accumulate = args.accumulate ?? false;
  const strideA = args.strideA ?? M2 * K2;
  const strideB = args.strideB ?? K2 * N2;
  const strideC = args.strideC ?? M2 * N2;
  const plan = operandPlan(gpu).matmul;
  if ([
    M2,
    N2,
    K2,
    batch
  ].some((d3) => !Number.isInteger(d3) || d3 < 1)) {
    throw new Error(`matmul: bad shape M=${M2} N=${N2} K=${K2} batch=${batch}`);
  }
  if (batch > 1 && strideC < M2 * N2) throw new Error("matmul: batch items of C overlap");
  const need = (t3, stride, n2, what) => {
    if ((batch - 1) * stride + n2 > t3.size) {
      throw new Error(`matmul: ${what} [${t3.shape}] too small for M=${M2} N=${N2} K=${K2}`);
    }
  };
  need(a4, strideA, M2 * K2, "a");
  need(b, strideB, K2 * N2, "b");
  need(c3, strideC, M2 * N2, "c");
  if (bias && bias.size < N2) throw new Error(`matmul: bias [${bias.shape}] shorter than N=${N2}`);
  const { splits, kChunk } = kChunks(K2, args.splits ?? chooseSplits(outputTiles(gpu, M2, N2, batch), K2, plan.splitK));
  const aligned = (axis, stride) => axis % 4 === 0 && (batch === 1 || stride % 4 === 0);
  const split = splits > 1;
  const flags = {
    transA,
    transB,
    bias: !!bias && !split,
    accumulate: accumulate && !split,
    vecA: aligned(transA ? M2 : K2, strideA),
    vecB: aligned(transB ? K2 : N2, strideB),
    vecC: !split && aligned(N2, strideC)
  };
  const shape = {
    M: M2,
    N: N2,
    K: K2,
    strideA,
    strideB,
    splits,
    kChunk,
    strideC: split ? M2 * N2 : strideC
  };
  const out = split ? createTensor(gpu, [
    batch,
    splits,
    M2,
    N2
  ], "f32", "matmul.splitK") : c3;
  const outBias = split ? void 0 : bias;
  let first;
  if (plan.technique === "texture" && textureOperandsFit(gpu, {
    M: M2,
    N: N2,
    K: K2,
    batch,
    strideA,
    strideB
  })) {
    first = await textureMatmul(gpu, {
      ...shape,
      a: a4,
      b,
      c: out,
      bias: outBias,
      batch,
      transA,
      transB,
      flags: {
        bias: flags.bias,
        accumulate: flags.accumulate,
        vecC: flags.vecC
      },
      bIsParameter: args.bIsParameter
    });
  } else {
    first = [
      await bufferGemm(gpu, plan.bufferKernel, {
        a: a4,
        b,
        c: out,
        bias: outBias,
        flags,
        items: batch,
        p: shape
      })
    ];
  }
  if (!split) return first;
  const reduceBuffers = {
    partial: out,
    c: c3
  };
  if (bias) reduceBuffers.bias = bias;
  const total = batch * M2 * N2;
  const reduce = await createDispatch(gpu, splitReduceKernel(!!bias, accumulate), reduceBuffers, grid1d(total, 64), {
    total,
    mn: M2 * N2,
    N: N2,
    splits,
    strideC
  });
  return [
    ...first,
    reduce
  ];
}
function sumRowsKernel(accumulate) {
  return {
    name: "sumRows",
    params: {
      rows: "u32",
      cols: "u32"
    },
    bindings: {
      x: "read",
      y: "write"
    },
    consts: {
      WG: 64,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.cols) { return; }
  // Four partial sums: independent adds pipeline, and long columns lose less precision.
  var s = vec4f(0.0);
  var r = 0u;
  for (; r + 4u <= p.rows; r += 4u) {
    s += vec4f(x[r * p.cols + col], x[(r + 1u) * p.cols + col], x[(r + 2u) * p.cols + col],
               x[(r + 3u) * p.cols + col]);
  }
  for (; r < p.rows; r++) { s.x += x[r * p.cols + col]; }
  var v = (s.x + s.y) + (s.z + s.w);
  if (ACCUMULATE) { v += y[col]; }
  y[col] = v;
}`
    )
  };
}
function sumRows(gpu, args) {
  const { x: x2, y: y3, rows, cols } = args;
  if (x2.size < rows * cols || y3.size < cols) throw new Error("sumRows: tensors too small");
  return createDispatch(gpu, sumRowsKernel(args.accumulate ?? false), {
    x: x2,
    y: y3
  }, [
    Math.ceil(cols / 64)
  ], {
    rows,
    cols
  });
}

// gpu/ops/linear.ts
function linearForward(gpu, args) {
  const { x: x2, weight, bias, y: y3, rows, inFeatures, outFeatures } = args;
  return matmul(gpu, {
    a: x2,
    b: weight,
    c: y3,
    M: rows,
    N: outFeatures,
    K: inFeatures,
    transB: true,
    bias,
    bIsParameter: true
  });
}
async function linearBackward(gpu, args) {
  const { x: x2, weight, dy, dx, dWeight, dBias, rows, inFeatures, outFeatures } = args;
  const out = [];
  if (dx) {
    out.push(...await matmul(gpu, {
      a: dy,
      b: weight,
      c: dx,
      M: rows,
      N: inFeatures,
      K: outFeatures,
      accumulate: args.accumulateDx ?? false,
      bIsParameter: true
    }));
  }
  out.push(...await matmul(gpu, {
    a: dy,
    b: x2,
    c: dWeight,
    M: outFeatures,
    N: inFeatures,
    K: rows,
    transA: true
  }));
  if (dBias) out.push(await sumRows(gpu, {
    x: dy,
    y: dBias,
    rows,
    cols: outFeatures
  }));
  return out;
}

// gpu/model/config.ts
var diffusersDefaults = {
  sample_size: null,
  in_channels: 4,
  out_channels: 4,
  center_input_sample: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  down_block_types: [
    "CrossAttnDownBlock2D",
    "CrossAttnDownBlock2D",
    "CrossAttnDownBlock2D",
    "DownBlock2D"
  ],
  mid_block_type: "UNetMidBlock2DCrossAttn",
  up_block_types: [
    "UpBlock2D",
    "CrossAttnUpBlock2D",
    "CrossAttnUpBlock2D",
    "CrossAttnUpBlock2D"
  ],
  only_cross_attention: false,
  block_out_channels: [
    320,
    640,
    1280,
    1280
  ],
  layers_per_block: 2,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  dropout: 0,
  act_fn: "silu",
  norm_num_groups: 32,
  norm_eps: 1e-5,
  cross_attention_dim: 1280,
  transformer_layers_per_block: 1,
  reverse_transformer_layers_per_block: null,
  encoder_hid_dim: null,
  encoder_hid_dim_type: null,
  attention_head_dim: 8,
  num_attention_heads: null,
  dual_cross_attention: false,
  use_linear_projection: false,
  class_embed_type: null,
  addition_embed_type: null,
  addition_time_embed_dim: null,
  num_class_embeds: null,
  upcast_attention: false,
  resnet_time_scale_shift: "default",
  resnet_skip_time_act: false,
  resnet_out_scale_factor: 1,
  time_embedding_type: "positional",
  time_embedding_dim: null,
  time_embedding_act_fn: null,
  timestep_post_act: null,
  time_cond_proj_dim: null,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  projection_class_embeddings_input_dim: null,
  attention_type: "default",
  class_embeddings_concat: false,
  mid_block_only_cross_attention: null,
  cross_attention_norm: null,
  addition_embed_type_num_heads: 64
};
var UnsupportedConfigError = class extends ConfigError {
  constructor(key, value, supported) {
    super(`unet config: ${key} = ${JSON.stringify(value)} is not supported (${supported})`);
  }
};
function parseUNetConfig(input) {
  const config = structuredClone(diffusersDefaults);
  for (const [key, value] of Object.entries(input)) {
    if (key.startsWith("_")) continue;
    if (!Object.hasOwn(diffusersDefaults, key)) {
      throw new UnsupportedConfigError(key, value, "unknown key");
    }
    config[key] = structuredClone(value);
  }
  const c3 = config;
  if (c3.encoder_hid_dim !== null && c3.encoder_hid_dim_type === null) {
    c3.encoder_hid_dim_type = "text_proj";
  }
  validate(c3);
  return c3;
}
function require2(ok, key, value, supported) {
  if (!ok) throw new UnsupportedConfigError(key, value, supported);
}
var positiveInt = (v3) => Number.isInteger(v3) && v3 > 0;
var intOrList = (v3, n2) => positiveInt(v3) || Array.isArray(v3) && v3.length === n2 && v3.every(positiveInt);
function validate(c3) {
  const n2 = c3.block_out_channels.length;
  const only = (key, want) => require2(c3[key] === want, key, c3[key], `only ${JSON.stringify(want)}`);
  require2(Array.isArray(c3.block_out_channels) && n2 > 0 && c3.block_out_channels.every(positiveInt), "block_out_channels", c3.block_out_channels, "a list of positive integers");
  require2(Array.isArray(c3.down_block_types) && c3.down_block_types.length === n2 && c3.down_block_types.every((t3) => t3 === "DownBlock2D" || t3 === "CrossAttnDownBlock2D"), "down_block_types", c3.down_block_types, `${n2} of DownBlock2D | CrossAttnDownBlock2D`);
  require2(Array.isArray(c3.up_block_types) && c3.up_block_types.length === n2 && c3.up_block_types.every((t3) => t3 === "UpBlock2D" || t3 === "CrossAttnUpBlock2D"), "up_block_types", c3.up_block_types, `${n2} of UpBlock2D | CrossAttnUpBlock2D`);
  only("mid_block_type", "UNetMidBlock2DCrossAttn");
  only("act_fn", "silu");
  only("use_linear_projection", false);
  only("class_embed_type", null);
  only("num_class_embeds", null);
  only("addition_embed_type", null);
  only("addition_time_embed_dim", null);
  only("num_attention_heads", null);
  only("dual_cross_attention", false);
  only("upcast_attention", false);
  only("resnet_time_scale_shift", "default");
  only("resnet_skip_time_act", false);
  only("resnet_out_scale_factor", 1);
  only("mid_block_scale_factor", 1);
  only("time_embedding_type", "positional");
  only("time_embedding_dim", null);
  only("time_embedding_act_fn", null);
  only("timestep_post_act", null);
  only("time_cond_proj_dim", null);
  only("conv_in_kernel", 3);
  only("conv_out_kernel", 3);
  only("downsample_padding", 1);
  only("center_input_sample", false);
  only("projection_class_embeddings_input_dim", null);
  only("attention_type", "default");
  only("class_embeddings_concat", false);
  only("cross_attention_norm", null);
  only("reverse_transformer_layers_per_block", null);
  require2(c3.only_cross_attention === false || Array.isArray(c3.only_cross_attention) && c3.only_cross_attention.every((v3) => v3 === false), "only_cross_attention", c3.only_cross_attention, "only false");
  require2(c3.mid_block_only_cross_attention === null || c3.mid_block_only_cross_attention === false, "mid_block_only_cross_attention", c3.mid_block_only_cross_attention, "null or false");
  require2(c3.encoder_hid_dim_type === null || c3.encoder_hid_dim_type === "text_proj", "encoder_hid_dim_type", c3.encoder_hid_dim_type, "null or text_proj");
  require2(c3.encoder_hid_dim === null || positiveInt(c3.encoder_hid_dim), "encoder_hid_dim", c3.encoder_hid_dim, "null or a positive integer");
  require2(c3.encoder_hid_dim_type === null || positiveInt(c3.cross_attention_dim), "cross_attention_dim", c3.cross_attention_dim, "one integer when encoder_hid_proj exists");
  require2(c3.encoder_hid_dim !== null || positiveInt(c3.cross_attention_dim) || new Set(c3.cross_attention_dim).size === 1, "cross_attention_dim", c3.cross_attention_dim, "one value: all blocks share one encoder_hidden_states");
  require2(positiveInt(c3.in_channels), "in_channels", c3.in_channels, "a positive integer");
  require2(positiveInt(c3.out_channels), "out_channels", c3.out_channels, "a positive integer");
  require2(typeof c3.flip_sin_to_cos === "boolean", "flip_sin_to_cos", c3.flip_sin_to_cos, "boolean");
  require2(Number.isFinite(c3.freq_shift), "freq_shift", c3.freq_shift, "a number");
  require2(c3.block_out_channels[0] % 2 === 0, "block_out_channels", c3.block_out_channels, "even");
  require2(intOrList(c3.layers_per_block, n2), "layers_per_block", c3.layers_per_block, "int|list");
  require2(intOrList(c3.cross_attention_dim, n2), "cross_attention_dim", c3.cross_attention_dim, "int|list");
  require2(intOrList(c3.attention_head_dim, n2), "attention_head_dim", c3.attention_head_dim, "int|list");
  require2(intOrList(c3.transformer_layers_per_block, n2), "transformer_layers_per_block", c3.transformer_layers_per_block, "int|list of ints");
  require2(typeof c3.dropout === "number" && c3.dropout >= 0 && c3.dropout < 1, "dropout", c3.dropout, "0 <= p < 1");
  require2(c3.norm_eps > 0, "norm_eps", c3.norm_eps, "positive");
  const g3 = c3.norm_num_groups;
  require2(positiveInt(g3), "norm_num_groups", g3, "a positive integer (null is not supported)");
  for (const ch of c3.block_out_channels) {
    require2(ch % g3 === 0, "norm_num_groups", g3, `must divide every block_out_channels (${ch})`);
  }
  const heads = perBlock(c3.attention_head_dim, n2);
  c3.block_out_channels.forEach((ch, i3) => require2(ch % heads[i3] === 0, "attention_head_dim", heads[i3], `must divide ${ch}`));
  require2(c3.sample_size === null || positiveInt(c3.sample_size), "sample_size", c3.sample_size, "null or a positive integer (tuples are not supported)");
}
function perBlock(v3, blocks) {
  return Array.isArray(v3) ? [
    ...v3
  ] : new Array(blocks).fill(v3);
}
function timeEmbedDim(c3) {
  return c3.block_out_channels[0] * 4;
}
function contextDim(c3) {
  return perBlock(c3.cross_attention_dim, c3.block_out_channels.length)[0];
}
function encoderInputDim(c3) {
  return c3.encoder_hid_dim ?? contextDim(c3);
}

// gpu/model/plan.ts
function unetPlan(config) {
  const channels = config.block_out_channels;
  const n2 = channels.length;
  const layers = perBlock(config.layers_per_block, n2);
  const heads = perBlock(config.attention_head_dim, n2);
  const context = perBlock(config.cross_attention_dim, n2);
  const tlayers = perBlock(config.transformer_layers_per_block, n2);
  const transformer = (prefix, ch, i3) => ({
    prefix,
    channels: ch,
    heads: heads[i3],
    layers: tlayers[i3],
    contextDim: context[i3]
  });
  const down = [];
  let out = channels[0];
  for (let i3 = 0; i3 < n2; i3++) {
    const input = out;
    out = channels[i3];
    const cross = config.down_block_types[i3] === "CrossAttnDownBlock2D";
    const block = {
      resnets: [],
      attentions: [],
      downsample: null
    };
    for (let j2 = 0; j2 < layers[i3]; j2++) {
      block.resnets.push({
        prefix: `down_blocks.${i3}.resnets.${j2}`,
        inChannels: j2 === 0 ? input : out,
        outChannels: out
      });
      if (cross) block.attentions.push(transformer(`down_blocks.${i3}.attentions.${j2}`, out, i3));
    }
    if (i3 < n2 - 1) block.downsample = {
      prefix: `down_blocks.${i3}.downsamplers.0`,
      channels: out
    };
    down.push(block);
  }
  const last = channels[n2 - 1];
  const mid = {
    resnets: [
      0,
      1
    ].map((j2) => ({
      prefix: `mid_block.resnets.${j2}`,
      inChannels: last,
      outChannels: last
    })),
    attentions: [
      transformer("mid_block.attentions.0", last, n2 - 1)
    ]
  };
  const reversed = [
    ...channels
  ].reverse();
  const rLayers = [
    ...layers
  ].reverse();
  const rHeads = [
    ...heads
  ].reverse();
  const rContext = [
    ...context
  ].reverse();
  const rTlayers = [
    ...tlayers
  ].reverse();
  const up = [];
  out = reversed[0];
  for (let i3 = 0; i3 < n2; i3++) {
    const prev = out;
    out = reversed[i3];
    const input = reversed[Math.min(i3 + 1, n2 - 1)];
    const cross = config.up_block_types[i3] === "CrossAttnUpBlock2D";
    const count = rLayers[i3] + 1;
    const block = {
      resnets: [],
      attentions: [],
      upsample: null
    };
    for (let j2 = 0; j2 < count; j2++) {
      const skip = j2 === count - 1 ? input : out;
      const current = j2 === 0 ? prev : out;
      block.resnets.push({
        prefix: `up_blocks.${i3}.resnets.${j2}`,
        inChannels: current + skip,
        outChannels: out,
        skipChannels: skip
      });
      if (cross) {
        block.attentions.push({
          prefix: `up_blocks.${i3}.attentions.${j2}`,
          channels: out,
          heads: rHeads[i3],
          layers: rTlayers[i3],
          contextDim: rContext[i3]
        });
      }
    }
    if (i3 < n2 - 1) block.upsample = {
      prefix: `up_blocks.${i3}.upsamplers.0`,
      channels: out
    };
    up.push(block);
  }
  return {
    config,
    timeProjDim: channels[0],
    timeEmbedDim: timeEmbedDim(config),
    encoderInputDim: encoderInputDim(config),
    contextDim: contextDim(config),
    hasEncoderHidProj: config.encoder_hid_dim_type === "text_proj",
    down,
    mid,
    up
  };
}

// gpu/model/params.ts
function resnetParams(r3, temb) {
  const { prefix: p3, inChannels: cin, outChannels: cout } = r3;
  const specs = [
    {
      name: `${p3}.norm1.weight`,
      shape: [
        cin
      ]
    },
    {
      name: `${p3}.norm1.bias`,
      shape: [
        cin
      ]
    },
    {
      name: `${p3}.conv1.weight`,
      shape: [
        cout,
        cin,
        3,
        3
      ]
    },
    {
      name: `${p3}.conv1.bias`,
      shape: [
        cout
      ]
    },
    {
      name: `${p3}.time_emb_proj.weight`,
      shape: [
        cout,
        temb
      ]
    },
    {
      name: `${p3}.time_emb_proj.bias`,
      shape: [
        cout
      ]
    },
    {
      name: `${p3}.norm2.weight`,
      shape: [
        cout
      ]
    },
    {
      name: `${p3}.norm2.bias`,
      shape: [
        cout
      ]
    },
    {
      name: `${p3}.conv2.weight`,
      shape: [
        cout,
        cout,
        3,
        3
      ]
    },
    {
      name: `${p3}.conv2.bias`,
      shape: [
        cout
      ]
    }
  ];
  if (cin !== cout) {
    specs.push({
      name: `${p3}.conv_shortcut.weight`,
      shape: [
        cout,
        cin,
        1,
        1
      ]
    });
    specs.push({
      name: `${p3}.conv_shortcut.bias`,
      shape: [
        cout
      ]
    });
  }
  return specs;
}
function attentionParams(p3, c3, kvDim) {
  return [
    {
      name: `${p3}.to_q.weight`,
      shape: [
        c3,
        c3
      ]
    },
    {
      name: `${p3}.to_k.weight`,
      shape: [
        c3,
        kvDim
      ]
    },
    {
      name: `${p3}.to_v.weight`,
      shape: [
        c3,
        kvDim
      ]
    },
    {
      name: `${p3}.to_out.0.weight`,
      shape: [
        c3,
        c3
      ]
    },
    {
      name: `${p3}.to_out.0.bias`,
      shape: [
        c3
      ]
    }
  ];
}
function transformerParams(t3) {
  const { prefix: p3, channels: c3 } = t3;
  const specs = [
    {
      name: `${p3}.norm.weight`,
      shape: [
        c3
      ]
    },
    {
      name: `${p3}.norm.bias`,
      shape: [
        c3
      ]
    },
    {
      name: `${p3}.proj_in.weight`,
      shape: [
        c3,
        c3,
        1,
        1
      ]
    },
    {
      name: `${p3}.proj_in.bias`,
      shape: [
        c3
      ]
    }
  ];
  for (let l3 = 0; l3 < t3.layers; l3++) {
    const b = `${p3}.transformer_blocks.${l3}`;
    specs.push({
      name: `${b}.norm1.weight`,
      shape: [
        c3
      ]
    }, {
      name: `${b}.norm1.bias`,
      shape: [
        c3
      ]
    }, ...attentionParams(`${b}.attn1`, c3, c3), {
      name: `${b}.norm2.weight`,
      shape: [
        c3
      ]
    }, {
      name: `${b}.norm2.bias`,
      shape: [
        c3
      ]
    }, ...attentionParams(`${b}.attn2`, c3, t3.contextDim), {
      name: `${b}.norm3.weight`,
      shape: [
        c3
      ]
    }, {
      name: `${b}.norm3.bias`,
      shape: [
        c3
      ]
    }, {
      name: `${b}.ff.net.0.proj.weight`,
      shape: [
        8 * c3,
        c3
      ]
    }, {
      name: `${b}.ff.net.0.proj.bias`,
      shape: [
        8 * c3
      ]
    }, {
      name: `${b}.ff.net.2.weight`,
      shape: [
        c3,
        4 * c3
      ]
    }, {
      name: `${b}.ff.net.2.bias`,
      shape: [
        c3
      ]
    });
  }
  specs.push({
    name: `${p3}.proj_out.weight`,
    shape: [
      c3,
      c3,
      1,
      1
    ]
  }, {
    name: `${p3}.proj_out.bias`,
    shape: [
      c3
    ]
  });
  return specs;
}
function convParams(p3, cout, cin, k2) {
  return [
    {
      name: `${p3}.weight`,
      shape: [
        cout,
        cin,
        k2,
        k2
      ]
    },
    {
      name: `${p3}.bias`,
      shape: [
        cout
      ]
    }
  ];
}
function unetParamSpecs(config) {
  const plan = unetPlan(config);
  const c0 = config.block_out_channels[0];
  const temb = plan.timeEmbedDim;
  const specs = [
    ...convParams("conv_in", c0, config.in_channels, 3),
    {
      name: "time_embedding.linear_1.weight",
      shape: [
        temb,
        plan.timeProjDim
      ]
    },
    {
      name: "time_embedding.linear_1.bias",
      shape: [
        temb
      ]
    },
    {
      name: "time_embedding.linear_2.weight",
      shape: [
        temb,
        temb
      ]
    },
    {
      name: "time_embedding.linear_2.bias",
      shape: [
        temb
      ]
    }
  ];
  if (plan.hasEncoderHidProj) {
    specs.push({
      name: "encoder_hid_proj.weight",
      shape: [
        plan.contextDim,
        plan.encoderInputDim
      ]
    }, {
      name: "encoder_hid_proj.bias",
      shape: [
        plan.contextDim
      ]
    });
  }
  for (const block of plan.down) {
    for (const a4 of block.attentions) specs.push(...transformerParams(a4));
    for (const r3 of block.resnets) specs.push(...resnetParams(r3, temb));
    if (block.downsample) {
      const d3 = block.downsample;
      specs.push(...convParams(`${d3.prefix}.conv`, d3.channels, d3.channels, 3));
    }
  }
  for (const block of plan.up) {
    for (const a4 of block.attentions) specs.push(...transformerParams(a4));
    for (const r3 of block.resnets) specs.push(...resnetParams(r3, temb));
    if (block.upsample) {
      const u4 = block.upsample;
      specs.push(...convParams(`${u4.prefix}.conv`, u4.channels, u4.channels, 3));
    }
  }
  for (const a4 of plan.mid.attentions) specs.push(...transformerParams(a4));
  for (const r3 of plan.mid.resnets) specs.push(...resnetParams(r3, temb));
  specs.push({
    name: "conv_norm_out.weight",
    shape: [
      c0
    ]
  }, {
    name: "conv_norm_out.bias",
    shape: [
      c0
    ]
  }, ...convParams("conv_out", config.out_channels, c0, 3));
  return specs;
}
function countElements(shape) {
  return shape.reduce((a4, b) => a4 * b, 1);
}
function parameterCount(specs) {
  return specs.reduce((sum, s3) => sum + countElements(s3.shape), 0);
}
var PARAM_ALIGN_ELEMENTS = 64;
function paramLayout(specs) {
  const entries = [];
  let offset = 0;
  for (const s3 of specs) {
    const size = countElements(s3.shape);
    entries.push({
      name: s3.name,
      shape: [
        ...s3.shape
      ],
      offset,
      size
    });
    offset += Math.ceil(size / PARAM_ALIGN_ELEMENTS) * PARAM_ALIGN_ELEMENTS;
  }
  return {
    entries,
    byName: new Map(entries.map((e3) => [
      e3.name,
      e3
    ])),
    totalElements: Math.max(offset, PARAM_ALIGN_ELEMENTS),
    count: parameterCount(specs)
  };
}
function createParamStore(gpu, specs, label = "unet") {
  const layout = paramLayout(specs);
  const data = createTensor(gpu, [
    layout.totalElements
  ], "f32", `${label}.params`);
  const grads = createTensor(gpu, [
    layout.totalElements
  ], "f32", `${label}.grads`);
  const params3 = /* @__PURE__ */ new Map();
  const gradViews = /* @__PURE__ */ new Map();
  for (const e3 of layout.entries) {
    params3.set(e3.name, tensorView(data, e3.offset, e3.shape, e3.name));
    gradViews.set(e3.name, tensorView(grads, e3.offset, e3.shape, `grad.${e3.name}`));
  }
  const lookup = (m3, name) => {
    const t3 = m3.get(name);
    if (!t3) throw new Error(`${label}: no parameter named ${name}`);
    return t3;
  };
  return {
    layout,
    data,
    grads,
    param: (name) => lookup(params3, name),
    grad: (name) => lookup(gradViews, name)
  };
}
function packParams3(layout, tensors) {
  const packed = new Float32Array(layout.totalElements);
  for (const name of tensors.keys()) {
    if (!layout.byName.has(name)) throw new Error(`unexpected parameter ${name}`);
  }
  for (const e3 of layout.entries) {
    const t3 = tensors.get(e3.name);
    if (!t3) throw new Error(`missing parameter ${e3.name}`);
    if (t3.data.length !== e3.size || t3.shape && t3.shape.join(",") !== e3.shape.join(",")) {
      throw new Error(`parameter ${e3.name}: shape [${t3.shape ?? t3.data.length}], want [${e3.shape}]`);
    }
    packed.set(t3.data, e3.offset);
  }
  return packed;
}
function loadParams(gpu, store, tensors) {
  upload(gpu, store.data, packParams3(store.layout, tensors));
}

// gpu/model/class_embedding.ts
var CLASS_EMBEDDING_DROPOUT_STREAM = 65535;
var defaultClassEmbedding = {
  inFeatures: 5,
  hidden: 32,
  outFeatures: 64,
  dropout: 0.1
};
function classEmbeddingParamSpecs(o4, prefix = "") {
  return [
    {
      name: `${prefix}0.weight`,
      shape: [
        o4.hidden,
        o4.inFeatures
      ]
    },
    {
      name: `${prefix}0.bias`,
      shape: [
        o4.hidden
      ]
    },
    {
      name: `${prefix}3.weight`,
      shape: [
        o4.outFeatures,
        o4.hidden
      ]
    },
    {
      name: `${prefix}3.bias`,
      shape: [
        o4.outFeatures
      ]
    }
  ];
}
async function buildClassEmbedding(gpu, o4, b) {
  const B3 = b.batch;
  const prefix = b.prefix ?? "";
  const params3 = b.params ?? createParamStore(gpu, classEmbeddingParamSpecs(o4, prefix), "emb");
  const name = (n2) => `${prefix}${n2}`;
  const t3 = (shape, label) => createTensor(gpu, shape, "f32", `emb.${label}`);
  const input = t3([
    B3,
    o4.inFeatures
  ], "input");
  const hidden = t3([
    B3,
    o4.hidden
  ], "hidden");
  const useDropout = b.training && o4.dropout > 0;
  if (useDropout && !b.seed) throw new Error("class embedding: dropout needs a seed tensor");
  const stream = b.stream ?? CLASS_EMBEDDING_DROPOUT_STREAM;
  const dropped = useDropout ? t3([
    B3,
    o4.hidden
  ], "dropped") : hidden;
  const activated = t3([
    B3,
    o4.hidden
  ], "gelu");
  const output = b.output ?? t3([
    B3,
    1,
    o4.outFeatures
  ], "output");
  if (output.size !== B3 * o4.outFeatures) throw new Error("class embedding: output size mismatch");
  const dOutput = b.dOutput ?? t3([
    B3,
    1,
    o4.outFeatures
  ], "dOutput");
  const s0 = {
    rows: B3,
    inFeatures: o4.inFeatures,
    outFeatures: o4.hidden
  };
  const s3 = {
    rows: B3,
    inFeatures: o4.hidden,
    outFeatures: o4.outFeatures
  };
  const w0 = params3.param(name("0.weight"));
  const w3 = params3.param(name("3.weight"));
  const forward = [];
  const backward = [];
  const push = (list, d3) => list.push(...Array.isArray(d3) ? d3 : [
    d3
  ]);
  push(forward, await linearForward(gpu, {
    x: input,
    weight: w0,
    bias: params3.param(name("0.bias")),
    y: hidden,
    ...s0
  }));
  if (useDropout) {
    push(forward, await dropoutForward(gpu, {
      x: hidden,
      y: dropped,
      p: o4.dropout,
      seed: b.seed,
      stream
    }));
  }
  push(forward, await geluForward(gpu, dropped, activated));
  push(forward, await linearForward(gpu, {
    x: activated,
    weight: w3,
    bias: params3.param(name("3.bias")),
    y: output,
    ...s3
  }));
  const dActivated = t3([
    B3,
    o4.hidden
  ], "dGelu");
  const dDropped = t3([
    B3,
    o4.hidden
  ], "dDropped");
  const dHidden = useDropout ? t3([
    B3,
    o4.hidden
  ], "dHidden") : dDropped;
  const dInput = b.withInputGrad ? t3([
    B3,
    o4.inFeatures
  ], "dInput") : void 0;
  push(backward, await linearBackward(gpu, {
    x: activated,
    weight: w3,
    dy: dOutput,
    dx: dActivated,
    dWeight: params3.grad(name("3.weight")),
    dBias: params3.grad(name("3.bias")),
    ...s3
  }));
  push(backward, await geluBackward(gpu, dropped, dActivated, dDropped));
  if (useDropout) {
    push(backward, await dropoutBackward(gpu, {
      dy: dDropped,
      dx: dHidden,
      p: o4.dropout,
      seed: b.seed,
      stream
    }));
  }
  push(backward, await linearBackward(gpu, {
    x: input,
    weight: w0,
    dy: dHidden,
    dx: dInput,
    dWeight: params3.grad(name("0.weight")),
    dBias: params3.grad(name("0.bias")),
    ...s0
  }));
  return {
    params: params3,
    input,
    hidden,
    dropped,
    activated,
    output,
    dOutput,
    dInput,
    forward,
    backward
  };
}

// gpu/model/sprite_model.ts
var DEFAULT_CLASS_NAMES = [
  "human",
  "non-human",
  "food",
  "spell",
  "side-facing"
];
function embeddingFor(config, classes, dropout2 = 0.1) {
  return {
    ...defaultClassEmbedding,
    inFeatures: classes,
    outFeatures: encoderInputDim(config),
    dropout: dropout2
  };
}
function loadInto(gpu, store, tensors, what) {
  checkTensors(store.layout.entries, tensors, what);
  for (const [name, t3] of tensors) {
    const bad = t3.data.findIndex((v3) => !Number.isFinite(v3));
    if (bad >= 0) {
      throw new CheckpointError(`${what}: tensor ${name} holds ${t3.data[bad]} at element ${bad}`);
    }
  }
  loadParams(gpu, store, tensors);
}
function spriteModelFromCheckpoint(gpu, loaded, where) {
  const dir = where.replace(/\/+$/, "");
  let config;
  try {
    config = parseUNetConfig(loaded.config);
  } catch (e3) {
    if (!(e3 instanceof EngineInputError)) throw e3;
    throw new CheckpointError(`${dir}/config.json: ${e3.message}`);
  }
  const info = loaded.info ?? {};
  const classNames = Array.isArray(info.class_names) ? info.class_names.map(String) : DEFAULT_CLASS_NAMES;
  const unetParams = createParamStore(gpu, unetParamSpecs(config), "unet");
  loadInto(gpu, unetParams, loaded.unet, `${dir}/diffusion_pytorch_model.safetensors`);
  let embedding = embeddingFor(config, classNames.length);
  let embeddingParams;
  if (loaded.embedding) {
    const first = loaded.embedding.get("0.weight");
    if (first && first.shape.length === 2) embedding = {
      ...embedding,
      hidden: first.shape[0]
    };
    embeddingParams = createParamStore(gpu, classEmbeddingParamSpecs(embedding), "emb");
    loadInto(gpu, embeddingParams, loaded.embedding, `${dir}/emb_net.safetensors`);
  }
  return {
    config,
    embedding,
    unetParams,
    embeddingParams,
    classNames,
    info
  };
}

// gpu/runtime/fields.ts
function numberField(value, name, fallback, rule) {
  if (value === void 0 || value === null || value === "") return fallback;
  const n2 = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n2) || rule.integer && !Number.isInteger(n2)) {
    throw new RequestError(`${name} must be ${rule.integer ? "an integer" : "a number"}, got ${JSON.stringify(value)}`);
  }
  if (n2 < rule.min || n2 > rule.max) {
    throw new RequestError(`${name} must be in [${rule.min}, ${rule.max}], got ${n2}`);
  }
  return n2;
}
function listOf(items, quote = '"', last = "or") {
  const q2 = items.map((a4) => `${quote}${a4}${quote}`);
  return q2.length < 2 ? q2.join("") : `${q2.slice(0, -1).join(", ")} ${last} ${q2.at(-1)}`;
}
function choiceField(value, name, allowed, fallback) {
  if (value === void 0 || value === null || value === "") return fallback;
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new RequestError(`${name} must be ${listOf(allowed)}, got ${JSON.stringify(value)}`);
  }
  return value;
}

// gpu/sample/labels.ts
function classIndex(classNames, spec) {
  const text = String(spec).trim();
  const byName = classNames.findIndex((n3) => n3.toLowerCase() === text.toLowerCase());
  if (byName >= 0) return byName;
  const n2 = Number(text);
  if (text !== "" && Number.isInteger(n2) && n2 >= 0 && n2 < classNames.length) return n2;
  throw new RequestError(`unknown class "${text}": use one of ${classNames.map((c3, i3) => `${i3} ${c3}`).join(", ")} (name or index)`);
}
function oneHot(classes, index) {
  const v3 = new Float32Array(classes);
  v3[index] = 1;
  return v3;
}
var MAX_LABEL_WEIGHT = 1e3;
function parseWeights(text, classes, name = "labels") {
  const parts = typeof text === "string" ? text.split(",") : [
    ...text
  ];
  if (parts.length !== classes) {
    throw new RequestError(`${name} need ${classes} weights (one per class), got ${parts.length}`);
  }
  return Float32Array.from(parts, (p3) => {
    const v3 = typeof p3 === "number" ? p3 : typeof p3 === "string" && p3.trim() !== "" ? Number(p3) : NaN;
    if (!Number.isFinite(v3) || v3 < 0) {
      throw new RequestError(`label weights must be finite numbers >= 0, got "${String(p3)}"`);
    }
    if (v3 > MAX_LABEL_WEIGHT) {
      throw new RequestError(`label weights must be at most ${MAX_LABEL_WEIGHT} (1 is a whole class), got ${v3}`);
    }
    return v3;
  });
}
function repeatVector(v3, count) {
  const out = new Float32Array(v3.length * count);
  for (let i3 = 0; i3 < count; i3++) out.set(v3, i3 * v3.length);
  return out;
}

// gpu/sample/latents.ts
var MAX_LATENT = 1e3;
function parseLatents(value, shape, name = "latents") {
  const per = shape[0] * shape[1] * shape[2];
  const dims2 = `[count, ${shape.join(", ")}]`;
  let data;
  if (typeof value === "string") data = fromBase64(value, name);
  else if (value instanceof Float32Array || value instanceof Float64Array) {
    data = Float32Array.from(value);
  } else if (Array.isArray(value)) data = fromNested(value, shape, name);
  else {
    throw new RequestError(`${name} must be the starting noise ${dims2}: nested lists of numbers, or base64 of little-endian float32, got ${value === null ? "null" : typeof value}`);
  }
  if (data.length === 0 || data.length % per !== 0) {
    throw new RequestError(`${name} holds ${data.length} value${data.length === 1 ? "" : "s"}; the noise is ${dims2}, ${per} values a sprite`);
  }
  for (let i3 = 0; i3 < data.length; i3++) {
    const v3 = data[i3];
    if (!Number.isFinite(v3) || Math.abs(v3) > MAX_LATENT) {
      throw new RequestError(`${name}: value ${i3} is ${v3}; noise values must be finite, within \xB1${MAX_LATENT}`);
    }
  }
  return data;
}
function latentCount(latents, shape) {
  return latents.length / (shape[0] * shape[1] * shape[2]);
}
function fromBase64(text, name) {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new RequestError(`${name} is a string but not base64`);
  }
  const binary = atob(clean);
  if (binary.length % 4 !== 0) {
    throw new RequestError(`${name} decodes to ${binary.length} bytes, not whole float32 values (4 bytes each)`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i3 = 0; i3 < binary.length; i3++) bytes[i3] = binary.charCodeAt(i3);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i3 = 0; i3 < out.length; i3++) out[i3] = view.getFloat32(4 * i3, true);
  return out;
}
function fromNested(list, shape, name) {
  const per = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(list.length * per);
  let at = 0;
  const walk = (v3, depth, path) => {
    if (depth === 3) {
      if (typeof v3 !== "number") {
        throw new RequestError(`${path} must be a number, got ${JSON.stringify(v3) ?? typeof v3}`);
      }
      out[at++] = v3;
      return;
    }
    const want = shape[depth];
    if (!Array.isArray(v3) || v3.length !== want) {
      throw new RequestError(`${path} must be a list of ${want} (a sprite's noise is [${shape.join(", ")}]), got ${Array.isArray(v3) ? `${v3.length}` : typeof v3}`);
    }
    v3.forEach((x2, i3) => walk(x2, depth + 1, `${path}[${i3}]`));
  };
  list.forEach((sprite, i3) => walk(sprite, 0, `${name}[${i3}]`));
  return out;
}

// gpu/sample/request.ts
function samplingWork(job) {
  return job.count * job.steps * (job.guidance !== 1 ? 2 : 1);
}
var EXPLICIT = [
  "class",
  "classes",
  "labels"
];
var DEFAULT_PER_ROW = 4;
var DEFAULT_PER_CLASS = 4;
var MAX_COLS = 8;
var RECOMMENDED_GUIDANCE = 2;
var GRID_DEFAULTS = {
  count: 4,
  steps: 10,
  eta: 0,
  seed: 1,
  guidance: RECOMMENDED_GUIDANCE
};
function samplingOptions(fields, nameOf = (k2) => k2) {
  const int = {
    integer: true
  };
  return {
    steps: numberField(fields.steps, nameOf("steps"), 10, {
      min: 1,
      max: 1e3,
      ...int
    }),
    eta: numberField(fields.eta, nameOf("eta"), 0, {
      min: 0,
      max: 1
    }),
    seed: numberField(fields.seed, nameOf("seed"), 1, {
      min: 0,
      max: 2 ** 32 - 1,
      ...int
    }),
    guidance: numberField(fields.guidance, nameOf("guidance"), 1, {
      min: 0,
      max: 20
    }),
    scheduler: choiceField(fields.scheduler, nameOf("scheduler"), [
      "ddim",
      "ddpm"
    ], "ddim")
  };
}
function parseSamplingRequest(fields, spec) {
  const nameOf = spec.nameOf ?? ((k2) => k2);
  const explicit = EXPLICIT.filter((f4) => spec.forms.includes(f4));
  const perClass = spec.forms.includes("per_class");
  if (!explicit.length && !perClass) throw new Error("parseSamplingRequest: no forms offered");
  const offered = orList(explicit.map(nameOf));
  const given = explicit.filter((f4) => fields[f4] !== void 0);
  if (!perClass && given.length !== 1) {
    const not = given.length ? `, not ${given.map(nameOf).join(" and ")}` : "";
    throw new RequestError(`give exactly one of ${offered}${not}`);
  }
  if (given.length > 1) {
    throw new RequestError(`give ${offered}, not ${given.length === 2 ? "both" : given.map(nameOf).join(" and ")}`);
  }
  if (!given.length && explicit.length && fields.count !== void 0) {
    throw new RequestError(`${nameOf("count")} needs ${offered}`);
  }
  const latents = spec.noiseShape && fields.latents !== void 0 && fields.latents !== null ? parseLatents(fields.latents, spec.noiseShape, nameOf("latents")) : void 0;
  const noiseFor = latents && latentCount(latents, spec.noiseShape);
  const layout = given.length ? explicitLayout(given[0], fields, spec, nameOf, noiseFor) : perClassLayout(fields, spec, nameOf, noiseFor);
  if (noiseFor !== void 0 && noiseFor !== layout.count) {
    throw new RequestError(`${nameOf("latents")} hold the noise of ${noiseFor} sprite${noiseFor === 1 ? "" : "s"}; this request makes ${layout.count}`);
  }
  const scale = numberField(fields.scale, nameOf("scale"), 4, {
    min: 1,
    max: spec.limits.maxScale,
    integer: true
  });
  const { labels, count, rows, cols } = layout;
  const options = samplingOptions(fields, nameOf);
  const max = spec.limits.maxWork;
  const work = samplingWork({
    count,
    ...options
  });
  if (max !== void 0 && work > max) {
    throw new RequestError(`${count} sprites x ${options.steps} steps${options.guidance !== 1 ? " x 2 (guidance)" : ""} is ${work} UNet passes; one request may ask for ${max}: fewer sprites or fewer steps`);
  }
  return {
    job: {
      labels,
      count,
      ...options,
      ...latents && {
        latents
      }
    },
    layout: layout.layout,
    rows,
    cols,
    scale
  };
}
function fallbackCount(noiseFor, groups2, otherwise) {
  return noiseFor !== void 0 && noiseFor % groups2 === 0 ? noiseFor / groups2 : otherwise;
}
function explicitLayout(form, fields, spec, nameOf, noiseFor) {
  const names = spec.classNames;
  const k2 = names.length;
  const max = spec.limits.maxCount;
  const countOf = (fallback) => numberField(fields.count, nameOf("count"), fallback, {
    min: 1,
    max,
    integer: true
  });
  const checkTotal = (n2) => {
    if (n2 > max) throw new RequestError(`${n2} sprites asked for; one request may ask for ${max}`);
  };
  const cls = (v3) => {
    if (typeof v3 !== "string" && typeof v3 !== "number") {
      throw new RequestError(`a class is a name or an index, got ${JSON.stringify(v3)}`);
    }
    return classIndex(names, v3);
  };
  const repeated = (layout, v3) => {
    if (noiseFor !== void 0) checkTotal(noiseFor);
    const count = countOf(fallbackCount(noiseFor, 1, spec.defaultCount ?? 8));
    return {
      layout,
      labels: repeatVector(v3, count),
      count,
      ...gridShape(count)
    };
  };
  if (form === "class") return repeated("class", oneHot(k2, cls(fields.class)));
  if (form === "classes") {
    const list = fields.classes;
    if (!Array.isArray(list) || list.length === 0) {
      throw new RequestError(`${nameOf("classes")} must be a non-empty list of class names or indices`);
    }
    const per = countOf(fallbackCount(noiseFor, list.length, DEFAULT_PER_ROW));
    checkTotal(list.length * per);
    const labels = new Float32Array(list.length * per * k2);
    list.forEach((c3, r3) => labels.set(repeatVector(oneHot(k2, cls(c3)), per), r3 * per * k2));
    return {
      layout: "classes",
      labels,
      count: list.length * per,
      rows: list.length,
      cols: per
    };
  }
  const l3 = fields.labels;
  const labelsName = nameOf("labels");
  if (Array.isArray(l3) && l3.length > 0 && l3.every(Array.isArray)) {
    if (fields.count !== void 0) {
      throw new RequestError(`${nameOf("count")} goes with one label vector, not a list`);
    }
    checkTotal(l3.length);
    const labels = new Float32Array(l3.length * k2);
    l3.forEach((v3, i3) => labels.set(parseWeights(v3, k2, labelsName), i3 * k2));
    return {
      layout: "label_list",
      labels,
      count: l3.length,
      ...gridShape(l3.length)
    };
  }
  if (typeof l3 !== "string" && !Array.isArray(l3)) {
    throw new RequestError(`${labelsName} must be ${k2} weights (a list or "w0,w1,...") or a list of such vectors`);
  }
  return repeated("labels", parseWeights(l3, k2, labelsName));
}
function perClassLayout(fields, spec, nameOf, noiseFor) {
  const k2 = spec.classNames.length;
  const fallback = fallbackCount(noiseFor, k2, DEFAULT_PER_CLASS);
  const per = numberField(fields.per_class, nameOf("per_class"), fallback, {
    min: 1,
    max: spec.limits.maxPerClass,
    integer: true
  });
  const labels = new Float32Array(k2 * per * k2);
  for (let c3 = 0; c3 < k2; c3++) labels.set(repeatVector(oneHot(k2, c3), per), c3 * per * k2);
  return {
    layout: "per_class",
    labels,
    count: k2 * per,
    rows: k2,
    cols: per
  };
}
function gridShape(count) {
  const cols = Math.min(count, MAX_COLS);
  return {
    rows: Math.ceil(count / cols),
    cols
  };
}
function orList(items) {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

// gpu/sample/scheduler_math.ts
var f322 = Math.fround;
var DEFAULT_SCHEDULER_CONFIG = {
  num_train_timesteps: 1e3,
  beta_start: 1e-4,
  beta_end: 0.02,
  beta_schedule: "linear",
  clip_sample: true,
  clip_sample_range: 1,
  prediction_type: "epsilon",
  timestep_spacing: "leading",
  steps_offset: 0,
  set_alpha_to_one: true
};
function linspaceF32(start, end, steps) {
  const s3 = f322(start);
  const e3 = f322(end);
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = s3;
    return out;
  }
  const step = f322(f322(e3 - s3) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const at = (i4) => i4 < halfway ? f322(s3 + step * i4) : f322(e3 - step * (steps - i4 - 1));
  const V2 = 8;
  let i3 = 0;
  for (; i3 + 2 * V2 <= steps; i3 += V2) {
    const base = at(i3);
    for (let k2 = 0; k2 < V2; k2++) out[i3 + k2] = f322(base + f322(k2 * step));
  }
  for (; i3 < steps; i3++) out[i3] = at(i3);
  return out;
}
function cumprodF32(x2) {
  const out = new Float32Array(x2.length);
  let acc = 1;
  for (let i3 = 0; i3 < x2.length; i3++) out[i3] = acc *= x2[i3];
  return out;
}
var NoiseSchedule = class {
  config;
  betas;
  alphas;
  alphasCumprod;
  /** null until setTimesteps: then the full training schedule is used. */
  numInferenceSteps = null;
  timesteps;
  constructor(config = {}) {
    this.config = {
      ...DEFAULT_SCHEDULER_CONFIG,
      ...config
    };
    const c3 = this.config;
    if (c3.beta_schedule !== "linear") {
      throw new Error(`beta_schedule ${c3.beta_schedule} unsupported`);
    }
    if (c3.prediction_type !== "epsilon") {
      throw new Error(`prediction_type ${c3.prediction_type} unsupported`);
    }
    if (c3.timestep_spacing !== "leading") {
      throw new Error(`timestep_spacing ${c3.timestep_spacing} unsupported`);
    }
    this.betas = linspaceF32(c3.beta_start, c3.beta_end, c3.num_train_timesteps);
    this.alphas = this.betas.map((b) => f322(1 - b));
    this.alphasCumprod = cumprodF32(this.alphas);
    this.timesteps = Array.from({
      length: c3.num_train_timesteps
    }, (_3, i3) => i3).reverse();
  }
  /** "leading" spacing: t_k = (n-1-k) * (T // n) + steps_offset. */
  setTimesteps(n2) {
    const T3 = this.config.num_train_timesteps;
    if (!Number.isInteger(n2) || n2 < 1 || n2 > T3) {
      throw new Error(`number of inference steps ${n2} must be an integer in [1, ${T3}]`);
    }
    this.numInferenceSteps = n2;
    const ratio = Math.floor(T3 / n2);
    this.timesteps = Array.from({
      length: n2
    }, (_3, k2) => (n2 - 1 - k2) * ratio + this.config.steps_offset);
  }
  previousTimestep(t3) {
    const T3 = this.config.num_train_timesteps;
    return t3 - Math.floor(T3 / (this.numInferenceSteps ?? T3));
  }
  alphaProdAt(t3) {
    if (!Number.isInteger(t3) || t3 < 0 || t3 >= this.alphasCumprod.length) {
      throw new Error(`timestep ${t3} outside [0, ${this.alphasCumprod.length})`);
    }
    return this.alphasCumprod[t3];
  }
};
var DDIMScheduler = class extends NoiseSchedule {
  get finalAlphaCumprod() {
    return this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }
  stepScalars(t3) {
    const prevTimestep = this.previousTimestep(t3);
    const alphaProdT = this.alphaProdAt(t3);
    const alphaProdTPrev = prevTimestep >= 0 ? this.alphaProdAt(prevTimestep) : this.finalAlphaCumprod;
    const variance = ddimCoefficients(alphaProdT, alphaProdTPrev, 0).variance;
    return {
      timestep: t3,
      prevTimestep,
      alphaProdT,
      alphaProdTPrev,
      variance
    };
  }
};
var DDPMScheduler = class extends NoiseSchedule {
  /** `addsNoise`: diffusers adds variance noise for every step but the one at t = 0. */
  stepScalars(t3) {
    const prevTimestep = this.previousTimestep(t3);
    const alphaProdT = this.alphaProdAt(t3);
    const alphaProdTPrev = prevTimestep >= 0 ? this.alphaProdAt(prevTimestep) : 1;
    const variance = ddpmCoefficients(alphaProdT, alphaProdTPrev).variance;
    return {
      timestep: t3,
      prevTimestep,
      alphaProdT,
      alphaProdTPrev,
      variance,
      addsNoise: t3 > 0
    };
  }
};
function ddimCoefficients(alphaProdT, alphaProdTPrev, eta, r3 = f322) {
  const betaProdT = r3(1 - alphaProdT);
  const variance = r3(r3(r3(1 - alphaProdTPrev) / betaProdT) * r3(1 - r3(alphaProdT / alphaProdTPrev)));
  const stdDevT = r3(eta * r3(Math.sqrt(variance)));
  return {
    variance,
    stdDevT,
    sqrtBetaProdT: r3(Math.sqrt(betaProdT)),
    sqrtAlphaProdT: r3(Math.sqrt(alphaProdT)),
    sqrtAlphaProdTPrev: r3(Math.sqrt(alphaProdTPrev)),
    directionCoeff: r3(Math.sqrt(r3(r3(1 - alphaProdTPrev) - r3(stdDevT * stdDevT))))
  };
}
function ddpmCoefficients(alphaProdT, alphaProdTPrev, r3 = f322) {
  const betaProdT = r3(1 - alphaProdT);
  const betaProdTPrev = r3(1 - alphaProdTPrev);
  const currentAlphaT = r3(alphaProdT / alphaProdTPrev);
  const currentBetaT = r3(1 - currentAlphaT);
  const variance = Math.max(r3(r3(betaProdTPrev / betaProdT) * currentBetaT), r3(1e-20));
  return {
    variance,
    stdDev: r3(Math.sqrt(variance)),
    sqrtBetaProdT: r3(Math.sqrt(betaProdT)),
    sqrtAlphaProdT: r3(Math.sqrt(alphaProdT)),
    predOriginalCoeff: r3(r3(r3(Math.sqrt(alphaProdTPrev)) * currentBetaT) / betaProdT),
    currentSampleCoeff: r3(r3(r3(Math.sqrt(currentAlphaT)) * betaProdTPrev) / betaProdT)
  };
}

// gpu/sample/scheduler.ts
var WG3 = 64;
function expectSize(kernel, what, t3, n2) {
  if (t3 && t3.size < n2) throw new Error(`${kernel}: ${what} has ${t3.size} elements, needs ${n2}`);
}
function samplerStepKernel(o4) {
  const bindings = {
    modelOutput: "read"
  };
  bindings.sample = o4.inPlace ? "write" : "read";
  if (!o4.inPlace) bindings.out = "write";
  if (o4.hasNoise) bindings.noise = "read";
  if (o4.writeX0) bindings.predOriginalSample = "write";
  return {
    name: o4.name,
    params: {
      n: "u32",
      cEps: "f32",
      cDiv: "f32",
      clipRange: "f32",
      cX0: "f32",
      cOther: "f32",
      cNoise: "f32"
    },
    bindings,
    consts: {
      WG: WG3,
      CLIP: o4.clip,
      OTHER_IS_SAMPLE: o4.otherIsSample,
      HAS_NOISE: o4.hasNoise,
      WRITE_X0: o4.writeX0
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let e = modelOutput[i];
  let s = sample[i];
  var x0 = (s - p.cEps * e) / p.cDiv;
  if (CLIP) { x0 = clamp(x0, -p.clipRange, p.clipRange); }
  var other = e;
  if (OTHER_IS_SAMPLE) { other = s; }
  var prev = p.cX0 * x0 + p.cOther * other;
  ${o4.hasNoise ? "prev = prev + p.cNoise * noise[i];" : ""}
  ${o4.inPlace ? "sample[i] = prev;" : "out[i] = prev;"}
  ${o4.writeX0 ? "predOriginalSample[i] = x0;" : ""}
}`
    )
  };
}
function samplerStep(gpu, name, a4, otherIsSample, hasNoise, c3) {
  const inPlace = a4.out.buffer === a4.sample.buffer && a4.out.offset === a4.sample.offset;
  for (const [what, t3] of Object.entries({
    modelOutput: a4.modelOutput,
    sample: a4.sample,
    out: a4.out
  })) {
    expectSize(name, what, t3, a4.n);
  }
  expectSize(name, "predOriginalSample", a4.predOriginalSample, a4.n);
  if (hasNoise) {
    if (!a4.noise) {
      throw new Error(`${name}: this step adds variance noise but no noise tensor was given`);
    }
    expectSize(name, "noise", a4.noise, a4.n);
  }
  const buffers = {
    modelOutput: a4.modelOutput,
    sample: a4.sample
  };
  if (!inPlace) buffers.out = a4.out;
  if (hasNoise) buffers.noise = a4.noise;
  if (a4.predOriginalSample) buffers.predOriginalSample = a4.predOriginalSample;
  const spec = samplerStepKernel({
    name,
    clip: a4.clipSample,
    otherIsSample,
    inPlace,
    hasNoise,
    writeX0: !!a4.predOriginalSample
  });
  return createDispatch(gpu, spec, buffers, grid1d(a4.n, WG3), {
    n: a4.n,
    clipRange: a4.clipSampleRange ?? 1,
    ...c3
  });
}
function ddimStep(gpu, a4) {
  const c3 = ddimCoefficients(a4.alphaProdT, a4.alphaProdTPrev, a4.eta);
  return samplerStep(gpu, "ddimStep", a4, false, a4.eta > 0, {
    cEps: c3.sqrtBetaProdT,
    cDiv: c3.sqrtAlphaProdT,
    cX0: c3.sqrtAlphaProdTPrev,
    cOther: c3.directionCoeff,
    cNoise: c3.stdDevT
  });
}
function ddpmStep(gpu, a4) {
  const c3 = ddpmCoefficients(a4.alphaProdT, a4.alphaProdTPrev);
  return samplerStep(gpu, "ddpmStep", a4, true, !!a4.noise, {
    cEps: c3.sqrtBetaProdT,
    cDiv: c3.sqrtAlphaProdT,
    cX0: c3.predOriginalCoeff,
    cOther: c3.currentSampleCoeff,
    cNoise: c3.stdDev
  });
}

// gpu/ops/elementwise.ts
var WG4 = 64;
var ENTRY = (
  /* wgsl */
  `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  body(i);
}`
);
function elementKernel(name, bindings, params3, body, accumulate, out = "y", element = "f32") {
  const typed = element === "f32" ? bindings : Object.fromEntries(Object.entries(bindings).map(([name2, access]) => [
    name2,
    `${access} array<vec4f>`
  ]));
  return {
    name,
    params: {
      n: "u32",
      ...params3
    },
    bindings: typed,
    consts: {
      WG: WG4,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
fn store(i: u32, v: ${element}) { if (ACCUMULATE) { ${out}[i] = ${out}[i] + v; } else { ${out}[i] = v; } }
fn body(i: u32) {
${body}
}
${ENTRY}`
    )
  };
}
function run(gpu, spec, buffers, n2, params3 = {}) {
  return createDispatch(gpu, spec, buffers, grid1d(n2, WG4), {
    n: n2,
    ...params3
  });
}
var inTexels = (n2, ...tensors) => n2 % 4 === 0 && tensors.every((t3) => t3.offset % 16 === 0);
function runInTexels(gpu, name, bindings, body, buffers, n2, accumulate, out) {
  const element = inTexels(n2, ...Object.values(buffers)) ? "vec4f" : "f32";
  const spec = elementKernel(name, bindings, {}, body, accumulate, out, element);
  return run(gpu, spec, buffers, element === "f32" ? n2 : n2 / 4);
}
function addInto(gpu, args) {
  const { x: x2, y: y3 } = args;
  const bindings = {
    x: "read",
    y: "write"
  };
  const body = "  store(i, x[i]);";
  return runInTexels(gpu, "addInto", bindings, body, {
    x: x2,
    y: y3
  }, x2.size, !!args.accumulate, "y");
}
function copyTensor(args) {
  const { x: x2, y: y3 } = args;
  if (x2.size !== y3.size || x2.dtype !== y3.dtype) {
    throw new Error(`copyTensor: [${x2.shape}] ${x2.dtype} into [${y3.shape}] ${y3.dtype}`);
  }
  const bytes = x2.size * (x2.dtype === "f16" ? 2 : 4);
  if (bytes % 4) throw new Error(`copyTensor: ${x2.size} f16 values are not whole words`);
  return copyStep("copyTensor", bytes, (encoder) => encoder.copyBufferToBuffer(x2.buffer, x2.offset, y3.buffer, y3.offset, bytes), {
    writes: [
      {
        buffer: y3.buffer,
        offset: y3.offset,
        size: bytes
      }
    ]
  });
}
function add(gpu, args) {
  const bindings = {
    a: "read",
    b: "read",
    out: "write"
  };
  const body = "  store(i, a[i] + b[i]);";
  return runInTexels(gpu, "add", bindings, body, args, args.a.size, false, "out");
}
function addChannelBias(gpu, args) {
  const { x: x2, bias, batch, channels, spatial } = args;
  const spec = elementKernel("addChannelBias", {
    bias: "read",
    x: "write"
  }, {
    spatial: "u32"
  }, "  store(i, bias[i / p.spatial]);", true, "x");
  return run(gpu, spec, {
    bias,
    x: x2
  }, batch * channels * spatial, {
    spatial
  });
}
function sumSpatial(gpu, args) {
  const { x: x2, y: y3, batch, channels, spatial } = args;
  const spec = elementKernel(
    "sumSpatial",
    {
      x: "read",
      y: "write"
    },
    {
      spatial: "u32"
    },
    /* wgsl */
    `
  var s = 0.0;
  for (var k = 0u; k < p.spatial; k++) { s += x[i * p.spatial + k]; }
  store(i, s);`,
    args.accumulate ?? false
  );
  return run(gpu, spec, {
    x: x2,
    y: y3
  }, batch * channels, {
    spatial
  });
}
function upsampleNearest2xForward(gpu, args) {
  const { x: x2, y: y3, planes, height, width } = args;
  const spec = elementKernel(
    "upsampleNearest2xForward",
    {
      x: "read",
      y: "write"
    },
    {
      width: "u32"
    },
    /* wgsl */
    `
  let w2 = 2u * p.width;
  let row = i / w2; // plane * 2H + output row
  let col = i - row * w2;
  store(i, x[(row / 2u) * p.width + col / 2u]);`,
    false
  );
  return run(gpu, spec, {
    x: x2,
    y: y3
  }, planes * 4 * height * width, {
    width
  });
}
function upsampleNearest2xBackward(gpu, args) {
  const { dy, dx, planes, height, width } = args;
  const spec = elementKernel(
    "upsampleNearest2xBackward",
    {
      dy: "read",
      dx: "write"
    },
    {
      width: "u32"
    },
    /* wgsl */
    `
  let row = i / p.width; // plane * H + input row
  let col = i - row * p.width;
  let top = 2u * row * 2u * p.width + 2u * col; // (plane * 2H + 2 * input row) * 2W + 2 * col
  let bottom = top + 2u * p.width;
  store(i, (dy[top] + dy[top + 1u]) + (dy[bottom] + dy[bottom + 1u]));`,
    args.accumulate ?? false,
    "dx"
  );
  return run(gpu, spec, {
    dy,
    dx
  }, planes * height * width, {
    width
  });
}
function itemCopies(name, parts, batch) {
  const bytes = parts.reduce((n2, q2) => n2 + 4 * q2.size * batch, 0);
  return copyStep(name, bytes, (encoder) => {
    for (const q2 of parts) {
      for (let item = 0; item < batch; item++) {
        encoder.copyBufferToBuffer(q2.src.buffer, q2.src.offset + 4 * (item * q2.srcStride + q2.srcAt), q2.dst.buffer, q2.dst.offset + 4 * (item * q2.dstStride + q2.dstAt), 4 * q2.size);
      }
    }
  });
}
function concatChannels(_gpu, args) {
  const { a: a4, b, out, batch, channelsA, channelsB, spatial } = args;
  const [sizeA, sizeB] = [
    channelsA * spatial,
    channelsB * spatial
  ];
  if (a4.size < batch * sizeA || b.size < batch * sizeB || out.size < batch * (sizeA + sizeB)) {
    throw new Error("concatChannels: tensors too small for the shape");
  }
  const item = sizeA + sizeB;
  return Promise.resolve(itemCopies("concatChannels", [
    {
      src: a4,
      srcAt: 0,
      srcStride: sizeA,
      dst: out,
      dstAt: 0,
      dstStride: item,
      size: sizeA
    },
    {
      src: b,
      srcAt: 0,
      srcStride: sizeB,
      dst: out,
      dstAt: sizeA,
      dstStride: item,
      size: sizeB
    }
  ], batch));
}
function splitChannels(gpu, args) {
  const { dOut, da, db, batch, channelsA, channelsB, spatial } = args;
  const acc = args.accumulate ?? false;
  if (!acc) {
    const [sizeA2, sizeB2] = [
      channelsA * spatial,
      channelsB * spatial
    ];
    const item = sizeA2 + sizeB2;
    return Promise.resolve(itemCopies("splitChannels", [
      {
        src: dOut,
        srcAt: 0,
        srcStride: item,
        dst: da,
        dstAt: 0,
        dstStride: sizeA2,
        size: sizeA2
      },
      {
        src: dOut,
        srcAt: sizeA2,
        srcStride: item,
        dst: db,
        dstAt: 0,
        dstStride: sizeB2,
        size: sizeB2
      }
    ], batch));
  }
  const spec = {
    name: "splitChannels",
    params: {
      n: "u32",
      sizeA: "u32",
      sizeB: "u32"
    },
    bindings: {
      dOut: "read",
      da: "write",
      db: "write"
    },
    consts: {
      WG: WG4,
      ACCUMULATE: acc
    },
    code: (
      /* wgsl */
      `
fn body(i: u32) {
  let item = i / (p.sizeA + p.sizeB);
  let k = i - item * (p.sizeA + p.sizeB);
  let g = dOut[i];
  if (k < p.sizeA) {
    let j = item * p.sizeA + k;
    if (ACCUMULATE) { da[j] = da[j] + g; } else { da[j] = g; }
  } else {
    let j = item * p.sizeB + k - p.sizeA;
    if (ACCUMULATE) { db[j] = db[j] + g; } else { db[j] = g; }
  }
}
${ENTRY}`
    )
  };
  const sizeA = channelsA * spatial;
  const sizeB = channelsB * spatial;
  return run(gpu, spec, {
    dOut,
    da,
    db
  }, batch * (sizeA + sizeB), {
    sizeA,
    sizeB
  });
}
function transpose(gpu, args) {
  const { x: x2, y: y3, batch, rows, cols } = args;
  const spec = elementKernel(
    "transpose",
    {
      x: "read",
      y: "write"
    },
    {
      rows: "u32",
      cols: "u32"
    },
    /* wgsl */
    `
  let plane = p.rows * p.cols;
  let b = i / plane;
  let k = i - b * plane; // c * rows + r
  let c = k / p.rows;
  let r = k - c * p.rows;
  store(i, x[b * plane + r * p.cols + c]);`,
    args.accumulate ?? false
  );
  return run(gpu, spec, {
    x: x2,
    y: y3
  }, batch * rows * cols, {
    rows,
    cols
  });
}

// gpu/ops/timestep_embedding.ts
var WG5 = 64;
function timestepFrequencies(dim, shift = 0, maxPeriod = 1e4) {
  const half = Math.floor(dim / 2);
  const f4 = Math.fround;
  const scaleF32 = f4(-Math.log(maxPeriod));
  return Float32Array.from({
    length: half
  }, (_3, i3) => f4(Math.exp(f4(f4(scaleF32 * i3) / (half - shift)))));
}
var SINCOS_WGSL = (
  /* wgsl */
  `
fn sincos_reduced(x: f32) -> vec2f {
  let k = round(x * 0.636619772367581343);
  var r = x - k * 1.57080078125;
  r = r - k * -4.45358455181121826e-6;
  r = r - k * -8.70551575271605297e-10;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z +
    z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = u32(i32(k) & 3);
  // (sin x, cos x) for x = r + q pi/2.
  switch (q) {
    case 0u: { return vec2f(s, c); }
    case 1u: { return vec2f(c, -s); }
    case 2u: { return vec2f(-s, -c); }
    default: { return vec2f(-c, s); }
  }
}
`
);
var embeddingKernel = {
  name: "timestepEmbedding",
  params: {
    n: "u32",
    dim: "u32",
    half: "u32",
    flip: "u32"
  },
  bindings: {
    timesteps: "read",
    freqs: "read",
    out: "write"
  },
  consts: {
    WG: WG5
  },
  code: SINCOS_WGSL + /* wgsl */
  `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let b = i / p.dim;
  let j = i % p.dim;
  // Odd dim: the last column is zero padding.
  if (j >= 2u * p.half) { out[i] = 0.0; return; }
  let second = j >= p.half;
  let f = select(j, j - p.half, second);
  let sc = sincos_reduced(timesteps[b] * freqs[f]);
  // [sin | cos], or [cos | sin] when flipped.
  out[i] = select(sc.x, sc.y, second != (p.flip != 0u));
}`
};
function timestepEmbedding(gpu, { timesteps, out, batch, dim, flipSinToCos = true, shift = 0, maxPeriod = 1e4 }) {
  if (out.size !== batch * dim) throw new Error(`timestepEmbedding: out is not [${batch}, ${dim}]`);
  if (timesteps.size < batch) throw new Error(`timestepEmbedding: fewer than ${batch} timesteps`);
  const half = Math.floor(dim / 2);
  const freqs = tensorFrom(gpu, half ? timestepFrequencies(dim, shift, maxPeriod) : new Float32Array(1), [
    Math.max(half, 1)
  ], "timestep_frequencies");
  return createDispatch(gpu, embeddingKernel, {
    timesteps,
    freqs,
    out
  }, grid1d(out.size, WG5), {
    n: out.size,
    dim,
    half,
    flip: flipSinToCos ? 1 : 0
  });
}

// gpu/model/builder.ts
var ModelBuilder = class {
  gpu;
  params;
  options;
  /**
   * The dispatches that read only parameters (marked `hoist` by the ops: weight packs), forward's
   * and backward's, to run once ahead of `forward`: the parameters do not change until the
   * optimizer step after `backward`, nor between the passes of a sampling request.
   */
  prepare;
  forward;
  backward;
  /** Outputs of named modules (diffusers' module paths), for the fixture test and debugging. */
  activations;
  steps;
  grads;
  written;
  scratchBuffers;
  streams;
  /** Bytes allocated for forward activations and for gradients (scratch included). */
  bytes;
  constructor(gpu, params3, options) {
    this.gpu = gpu;
    this.params = params3;
    this.options = options;
    this.prepare = [];
    this.forward = [];
    this.backward = [];
    this.activations = /* @__PURE__ */ new Map();
    this.steps = [];
    this.grads = /* @__PURE__ */ new Map();
    this.written = /* @__PURE__ */ new Set();
    this.scratchBuffers = /* @__PURE__ */ new Map();
    this.streams = 0;
    this.bytes = {
      activations: 0,
      gradients: 0
    };
  }
  get batch() {
    return this.options.batch;
  }
  /** A forward activation: allocated once, kept for the backward. */
  act(shape, label) {
    this.bytes.activations += 4 * shape.reduce((a4, b) => a4 * b, 1);
    return createTensor(this.gpu, shape, "f32", `${this.options.label}.${label}`);
  }
  param(name) {
    return this.params.param(name);
  }
  paramGrad(name) {
    return this.params.grad(name);
  }
  /** A parameter seen with another shape (a 1x1 conv weight as a linear weight). */
  paramAs(name, shape) {
    return {
      ...this.params.param(name),
      shape
    };
  }
  paramGradAs(name, shape) {
    return {
      ...this.params.grad(name),
      shape
    };
  }
  async emit(d3) {
    this.#add(this.forward, await d3);
  }
  async emitBackward(d3) {
    this.#add(this.backward, await d3);
  }
  #add(list, r3) {
    for (const d3 of Array.isArray(r3) ? r3 : [
      r3
    ]) (d3.hoist ? this.prepare : list).push(d3);
  }
  onBackward(step) {
    if (this.options.withBackward) this.steps.push(step);
  }
  /** Runs the registered backward steps, last forward step first. */
  async buildBackward() {
    for (let i3 = this.steps.length - 1; i3 >= 0; i3--) await this.steps[i3]();
  }
  /** The gradient buffer of activation `t` (same shape), allocated on first use. */
  grad(t3) {
    let g3 = this.grads.get(t3);
    if (!g3) {
      this.bytes.gradients += 4 * t3.size;
      g3 = createTensor(this.gpu, t3.shape, "f32", `d.${t3.label}`);
      this.grads.set(t3, g3);
    }
    return g3;
  }
  hasGrad(t3) {
    return this.grads.has(t3);
  }
  /** Uses `g` as the gradient buffer of `t` (an input gradient the caller owns). */
  setGrad(t3, g3) {
    this.grads.set(t3, g3);
  }
  /**
   * Whether the next backward write into grad(t) must add: false for the first writer (it
   * overwrites), true afterwards. Backward steps run in the order they are built, so this holds.
   */
  accumulate(t3) {
    const seen = this.written.has(t3);
    this.written.add(t3);
    return seen;
  }
  /**
   * A gradient buffer consumed right where it is produced (inside one block's backward): shared by
   * every block that asks for the same key and shape, since the backward runs one step at a time.
   */
  scratch(key, shape) {
    const id = `${key}[${shape}]`;
    let t3 = this.scratchBuffers.get(id);
    if (!t3) {
      this.bytes.gradients += 4 * shape.reduce((a4, b) => a4 * b, 1);
      t3 = createTensor(this.gpu, shape, "f32", `${this.options.label}.scratch.${id}`);
      this.scratchBuffers.set(id, t3);
    }
    return t3;
  }
  /** A dropout stream number of its own for each dropout site. */
  nextStream() {
    return this.options.streamBase + this.streams++;
  }
};

// gpu/ops/conv2d/geometry.ts
function conv2dGeometry(shape) {
  const { batch, inChannels, outChannels, height, width, kernel, stride } = shape;
  if (!(kernel === 3 && (stride === 1 || stride === 2)) && !(kernel === 1 && stride === 1)) {
    throw new Error(`conv2d: kernel ${kernel} stride ${stride} is not supported`);
  }
  for (const [name, v3] of Object.entries({
    batch,
    inChannels,
    outChannels,
    height,
    width
  })) {
    if (!Number.isInteger(v3) || v3 < 1) throw new Error(`conv2d: ${name} = ${v3}`);
  }
  const padding = kernel === 3 ? 1 : 0;
  const outHeight = Math.floor((height + 2 * padding - kernel) / stride) + 1;
  const outWidth = Math.floor((width + 2 * padding - kernel) / stride) + 1;
  return {
    ...shape,
    padding,
    outHeight,
    outWidth
  };
}
function expectSize2(t3, size, what) {
  if (t3.size !== size) throw new Error(`conv2d: ${what} has ${t3.size} elements, expected ${size}`);
}
function convDims(g3) {
  return {
    batch: g3.batch,
    inC: g3.inChannels,
    outC: g3.outChannels,
    inH: g3.height,
    inW: g3.width,
    outH: g3.outHeight,
    outW: g3.outWidth,
    kernel: g3.kernel,
    stride: g3.stride
  };
}
var convParams2 = {
  inC: "u32",
  outC: "u32",
  inH: "u32",
  inW: "u32",
  outH: "u32",
  outW: "u32",
  positions: "u32"
};
var sameConvDims = (a4, b) => Object.keys(a4).every((k2) => a4[k2] === b[k2]);

// gpu/ops/conv2d/direct_buffer.ts
var tileRows = (stride) => stride === 1 ? 4 : 2;
var COLS = 4;
var OC = 8;
function directConvKernel(c3) {
  const K2 = c3.kernel, S2 = c3.stride, P2 = (K2 - 1) / 2, KK = K2 * K2, ROWS = tileRows(S2);
  const inRows = (ROWS - 1) * S2 + K2;
  const inCols = (COLS - 1) * S2 + K2;
  const window = pairs(inRows, inCols);
  const outputs = pairs(ROWS, COLS);
  const weightOffset = (j2, ky, kx) => c3.transposed ? `wb${j2} + wo + ${KK - 1 - (ky * K2 + kx)}u` : `wb${j2} + wo + ${ky * K2 + kx}u`;
  const bindings = {
    x: "read",
    weight: "read"
  };
  if (c3.bias) bindings.bias = "read";
  bindings.y = "write";
  return {
    name: `conv2dDirect${K2}x${K2}s${S2}${c3.transposed ? "T" : ""}`,
    params: {
      ...convParams2,
      tilesX: "u32",
      tilesY: "u32"
    },
    bindings,
    consts: {
      WG: c3.wg,
      ROWS,
      COLS,
      OC,
      S: S2,
      KK,
      ACCUMULATE: c3.accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  // Lanes run over (tile, batch) so that small feature maps still fill the SIMD width.
  if (gid.x >= p.positions) { return; }
  let ox0 = (gid.x % p.tilesX) * COLS;
  let oy0 = (gid.x / p.tilesX % p.tilesY) * ROWS;
  let b = gid.x / (p.tilesX * p.tilesY);
  let ocBase = wid.y * OC;
  let ix0 = i32(ox0 * S) - ${P2};
  let iy0 = i32(oy0 * S) - ${P2};
  let inW = i32(p.inW);
  let inH = i32(p.inH);
  // Padding: out-of-range taps read element 0 and are masked to zero.
  ${each(range(inCols), (t3) => `let cm${t3} = ix0 + ${t3} >= 0 && ix0 + ${t3} < inW;`)}
  ${each(range(inRows), (r3) => `let rm${r3} = iy0 + ${r3} >= 0 && iy0 + ${r3} < inH;`)}
  ${each(window, ([r3, t3]) => `let m${r3}_${t3} = rm${r3} && cm${t3};
  let o${r3}_${t3} = select(0u, u32((iy0 + ${r3}) * inW + ix0 + ${t3}), m${r3}_${t3});`)}
  // Channels past the end of a partial tile compute a clamped channel and are not stored.
  ${each(range(OC), (j2) => `let oc${j2} = min(ocBase + ${j2}u, p.outC - 1u);`)}
  ${each(range(OC), (j2) => c3.transposed ? `let wb${j2} = oc${j2} * KK;` : `let wb${j2} = oc${j2} * p.inC * KK;`)}
  ${each(range(OC), (j2) => each(outputs, ([q2, u4]) => `var a${j2}_${q2}_${u4} = 0.0;`))}
  let plane = p.inH * p.inW;
  var base = b * p.inC * plane;
  for (var ic = 0u; ic < p.inC; ic++) {
    ${each(window, ([r3, t3]) => `let v${r3}_${t3} = select(0.0, x[base + o${r3}_${t3}], m${r3}_${t3});`)}
    let wo = ${c3.transposed ? "ic * p.outC * KK" : "ic * KK"};
    ${each(range(OC), (j2) => each(pairs(K2, K2), ([ky, kx]) => `{ let w = weight[${weightOffset(j2, ky, kx)}];
      ${each(outputs, ([q2, u4]) => `a${j2}_${q2}_${u4} = fma(w, v${q2 * S2 + ky}_${u4 * S2 + kx}, a${j2}_${q2}_${u4});`)} }`))}
    base += plane;
  }
  ${each(range(OC), (j2) => each(outputs, ([q2, u4]) => `if (oy0 + ${q2}u < p.outH && ox0 + ${u4}u < p.outW && ocBase + ${j2}u < p.outC) {
    let i = ((b * p.outC + oc${j2}) * p.outH + oy0 + ${q2}u) * p.outW + ox0 + ${u4}u;
    let v = a${j2}_${q2}_${u4}${c3.bias ? ` + bias[oc${j2}]` : ""};
    if (ACCUMULATE) { y[i] = y[i] + v; } else { y[i] = v; }
  }`))}
}`
    )
  };
}
function directConvBuffer(gpu, d3, buffers, flags) {
  const wg = gpu.profile.conv2d.laneWidth;
  const tilesX = Math.ceil(d3.outW / COLS);
  const tilesY = Math.ceil(d3.outH / tileRows(d3.stride));
  const positions = tilesX * tilesY * d3.batch;
  const params3 = {
    inC: d3.inC,
    outC: d3.outC,
    inH: d3.inH,
    inW: d3.inW,
    outH: d3.outH,
    outW: d3.outW
  };
  return createDispatch(gpu, directConvKernel({
    kernel: d3.kernel,
    stride: d3.stride,
    ...flags,
    wg
  }), buffers, [
    Math.ceil(positions / wg),
    Math.ceil(d3.outC / OC),
    1
  ], {
    ...params3,
    positions,
    tilesX,
    tilesY
  });
}

// gpu/ops/conv2d/direct_texture.ts
function directTile(kernel, stride) {
  if (kernel === 1) return {
    ROWS: 4,
    COLS: 4,
    OC: 8
  };
  return stride === 1 ? {
    ROWS: 4,
    COLS: 4,
    OC: 8
  } : {
    ROWS: 2,
    COLS: 4,
    OC: 8
  };
}
var WG6 = 8;
function paddedInput(d3, rows, cols, extra = 0) {
  const C4 = Math.ceil(d3.inC / 4);
  return {
    C4,
    rowsPerItem: rows,
    cols,
    size: [
      cols * C4 + extra,
      d3.batch * rows
    ]
  };
}
var packInputKernel = {
  name: "conv2dPackInput",
  params: {
    C: "u32",
    H: "u32",
    W: "u32",
    C4: "u32",
    pad: "u32",
    rowsPerItem: "u32",
    imageWidth: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32"
  },
  bindings: {
    x: "read",
    t: "operand write"
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let px = gid.x / p.C4;
  let c = (gid.x - px * p.C4) * 4u;
  let b = gid.y / p.rowsPerItem;
  let ix = i32(px) - i32(p.pad);
  let iy = i32(gid.y - b * p.rowsPerItem) - i32(p.pad);
  var v = vec4f(0.0);
  if (gid.x >= p.imageWidth) {
    // The weight gradient's extra texel (1, 0, 0, 0): its GEMM column is dBias.
    v.x = select(0.0, 1.0, gid.x == p.imageWidth && gid.y == 0u);
  } else if (ix >= 0 && ix < i32(p.W) && iy >= 0 && iy < i32(p.H)) {
    let plane = p.H * p.W;
    let base = (b * p.C + c) * plane + u32(iy) * p.W + u32(ix);
    for (var q = 0u; q < 4u; q++) {
      if (c + q < p.C) { v[q] = x[base + q * plane]; }
    }
  }
  store_t(gid.xy, v);
}`
  )
};
var packInputMirrorKernel = (d3, C4, upsample2 = false) => ({
  name: upsample2 ? "conv2dPackInputUpsampled" : "conv2dPackInput",
  params: {
    rowsPerItem: "u32",
    tPitch: "u32"
  },
  bindings: {
    x: "mirror read",
    t: "operand write"
  },
  consts: {
    C: d3.C,
    H: d3.H,
    W4: d3.W / 4,
    C4,
    PAD: d3.pad
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  // x: c4 + C4 * k (k: block of four columns), y: image row, z: item.
  let c4 = gid.x % C4;
  let k = gid.x / C4;
  if (k >= W4 || gid.y >= H) { return; }
  let b = gid.z;
  let c = c4 * 4u;
  let plane = H * W4;
  let at = ((b * C + c) * H + gid.y) * W4 + k;
  let zero = vec4f(0.0);
  let q0 = load_x(at);
  let q1 = select(zero, load_x(at + plane), c + 1u < C);
  let q2 = select(zero, load_x(at + 2u * plane), c + 2u < C);
  let q3 = select(zero, load_x(at + 3u * plane), c + 3u < C);
  let texels = array(
    vec4f(q0.x, q1.x, q2.x, q3.x),
    vec4f(q0.y, q1.y, q2.y, q3.y),
    vec4f(q0.z, q1.z, q2.z, q3.z),
    vec4f(q0.w, q1.w, q2.w, q3.w),
  );
  ${upsample2 ? `let row = b * p.rowsPerItem + 2u * gid.y + PAD;
  let col = (8u * k + PAD) * C4 + c4;
  for (var r = 0u; r < 2u; r++) {
    ${each(range(8), (j2) => `store_t(vec2u(col + ${j2}u * C4, row + r), texels[${j2 >> 1}]);`)}
  }` : `let row = b * p.rowsPerItem + gid.y + PAD;
  let col = (4u * k + PAD) * C4 + c4;
  ${each(range(4), (j2) => `store_t(vec2u(col + ${j2}u * C4, row), texels[${j2}]);`)}`}
}`
  )
});
function onesTexel(gpu, t3, column) {
  const f162 = gpu.operandFormat === "rgba16float";
  const texel = f162 ? Uint32Array.of(15360, 0) : Uint32Array.of(1065353216, 0, 0, 0);
  upload(gpu, t3.staging, texel, column * texel.length);
}
async function packInput(gpu, x2, t3, d3, layout) {
  const [width, height] = layout.size;
  const params3 = {
    ...d3,
    C4: layout.C4,
    rowsPerItem: layout.rowsPerItem,
    imageWidth: layout.cols * layout.C4,
    width,
    height,
    tPitch: t3.pitch
  };
  const buffers = {
    x: x2,
    t: t3.staging
  };
  if (d3.W % 4 === 0) {
    if (width > params3.imageWidth) onesTexel(gpu, t3, params3.imageWidth);
    const xm = mirror(gpu, x2);
    return [
      xm.refresh,
      await createDispatch(gpu, packInputMirrorKernel(d3, layout.C4), {
        x: xm.view,
        t: t3.staging
      }, [
        Math.ceil(layout.C4 * d3.W / 4 / 16),
        Math.ceil(d3.H / 4),
        x2.size / (d3.C * d3.H * d3.W)
      ], {
        rowsPerItem: layout.rowsPerItem,
        tPitch: t3.pitch
      }),
      t3.upload
    ];
  }
  return [
    await createDispatch(gpu, packInputKernel, buffers, [
      Math.ceil(width / 8),
      Math.ceil(height / 8)
    ], params3),
    t3.upload
  ];
}
async function packUpsampledInput(gpu, x2, target) {
  const d3 = target.dims;
  const [C3, H3, W2] = [
    d3.inC,
    d3.inH / 2,
    d3.inW / 2
  ];
  if (W2 % 4 || !Number.isInteger(H3) || x2.size !== d3.batch * C3 * H3 * W2) return null;
  const xm = mirror(gpu, x2);
  const C4 = target.layout.C4;
  return [
    xm.refresh,
    await createDispatch(gpu, packInputMirrorKernel({
      C: C3,
      H: H3,
      W: W2,
      pad: (d3.kernel - 1) / 2
    }, C4, true), {
      x: xm.view,
      t: target.tx.staging
    }, [
      Math.ceil(C4 * W2 / 4 / 16),
      Math.ceil(H3 / 4),
      d3.batch
    ], {
      rowsPerItem: target.layout.rowsPerItem,
      tPitch: target.tx.pitch
    }),
    target.tx.upload
  ];
}
var packWeightKernel = (transposed) => ({
  name: "conv2dPackWeight",
  params: {
    inC: "u32",
    outC: "u32",
    C4: "u32",
    KK: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32"
  },
  bindings: {
    w: "read",
    t: "operand write"
  },
  consts: {
    TRANSPOSED: transposed
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let tap = gid.x / p.C4;
  let c = (gid.x - tap * p.C4) * 4u;
  let oc = gid.y;
  var v = vec4f(0.0);
  if (oc < p.outC) {
    for (var q = 0u; q < 4u; q++) {
      if (c + q < p.inC) {
        // weight is [outC, inC, KK] as the kernel sees the conv, or [inC, outC, KK] flipped.
        v[q] = w[select((oc * p.inC + c + q) * p.KK + tap,
                        ((c + q) * p.outC + oc) * p.KK + p.KK - 1u - tap, TRANSPOSED)];
      }
    }
  }
  store_t(gid.xy, v);
}`
  )
});
function directInputLayout(d3) {
  const K2 = d3.kernel, S2 = d3.stride;
  const { ROWS, COLS: COLS2 } = directTile(K2, S2);
  const tilesX = Math.ceil(d3.outW / COLS2), tilesY = Math.ceil(d3.outH / ROWS);
  return paddedInput(d3, (tilesY * ROWS - 1) * S2 + K2, (tilesX * COLS2 - 1) * S2 + K2, 1);
}
function directInputTarget(gpu, d3, x2) {
  if (d3.inC % 4 || d3.inW % 4) return null;
  const input = directInputLayout(d3);
  const { OC: OC2 } = directTile(d3.kernel, d3.stride);
  const wSize = [
    d3.kernel * d3.kernel * input.C4,
    Math.ceil(d3.outC / OC2) * OC2
  ];
  const TM = operandPlan(gpu).textureTile.TM;
  const dySize = [
    Math.ceil(d3.batch * d3.outH * d3.outW / 4),
    Math.ceil(d3.outC / TM) * TM
  ];
  if (!texturesFit(gpu, input.size, wSize, dySize)) return null;
  const tx = operandTexture(gpu, input.size, "conv2d.packedInput");
  onesTexel(gpu, tx, input.cols * input.C4);
  return {
    tx,
    layout: input,
    x: x2,
    dims: d3
  };
}
function directTextureKernel(K2, S2, bias, itemBias, accumulate) {
  const { ROWS, COLS: COLS2, OC: OC2 } = directTile(K2, S2);
  const inRows = (ROWS - 1) * S2 + K2, inCols = (COLS2 - 1) * S2 + K2;
  const window = pairs(inRows, inCols);
  const outputs = pairs(ROWS, COLS2);
  const taps = pairs(K2, K2);
  const bindings = {
    tx: "texture read",
    tw: "texture read"
  };
  if (bias) bindings.bias = "read";
  if (itemBias) bindings.itemBias = "read";
  bindings.y = "write";
  const add2 = (j2) => `${bias ? ` + bias${j2}` : ""}${itemBias ? ` + itemBias${j2}` : ""}`;
  const fmas = (terms) => terms.map(([w3, v3]) => XYZW.split("").map((c3) => `a = fma(${w3}.${c3}, ${v3}.${c3}, a);`).join(" ")).join(" ");
  const loop = `for (var c4 = 0u; c4 < p.C4; c4++) {
    ${each(window, ([r3, t3]) => `let v${r3}_${t3} = textureLoad(tx, vec2u(col0 + ${t3}u * p.C4 + c4, row0 + ${r3}u));`)}
    ${each(range(OC2), (j2) => each(range(K2 * K2), (tap) => `let w${j2}_${tap} = textureLoad(tw, vec2u(${tap}u * p.C4 + c4, ocBase + ${j2}u));`))}
    ${each(range(OC2), (j2) => each(outputs, ([q2, u4]) => {
    const terms = taps.map(([ky, kx]) => [
      `w${j2}_${ky * K2 + kx}`,
      `v${q2 * S2 + ky}_${u4 * S2 + kx}`
    ]);
    return `{ var a = a${j2}_${q2}_${u4}; ${fmas(terms)} a${j2}_${q2}_${u4} = a; }`;
  }))}
  }`;
  const rowLoop = `for (var i = 0u; i < p.C4 * 3u; i++) {
    let c4 = i / 3u;
    let ky = i - c4 * 3u;
    ${each(pairs(ROWS, inCols), ([q2, t3]) => `let v${q2}_${t3} = textureLoad(tx, vec2u(col0 + ${t3}u * p.C4 + c4, row0 + ${q2 * S2}u + ky));`)}
    ${each(range(OC2), (j2) => each(range(K2), (kx) => `let w${j2}_${kx} = textureLoad(tw, vec2u((ky * 3u + ${kx}u) * p.C4 + c4, ocBase + ${j2}u));`))}
    ${each(range(OC2), (j2) => each(outputs, ([q2, u4]) => {
    const terms = range(K2).map((kx) => [
      `w${j2}_${kx}`,
      `v${q2}_${u4 * S2 + kx}`
    ]);
    return `{ var a = a${j2}_${q2}_${u4}; ${fmas(terms)} a${j2}_${q2}_${u4} = a; }`;
  }))}
  }`;
  return {
    name: `conv2dDirectTexture${K2}x${K2}s${S2}`,
    params: {
      outC: "u32",
      outH: "u32",
      outW: "u32",
      C4: "u32",
      rowsPerItem: "u32",
      tilesX: "u32",
      tilesY: "u32",
      positions: "u32"
    },
    bindings,
    consts: {
      WG: WG6,
      ROWS,
      COLS: COLS2,
      OC: OC2,
      S: S2,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.positions) { return; }
  let ox0 = (gid.x % p.tilesX) * COLS;
  let oy0 = (gid.x / p.tilesX % p.tilesY) * ROWS;
  let b = gid.x / (p.tilesX * p.tilesY);
  let ocBase = wid.y * OC;
  let row0 = b * p.rowsPerItem + oy0 * S;
  let col0 = ox0 * S * p.C4;
  // vec4 partial sums (one per input channel of the texel): four independent FMA chains.
  ${each(range(OC2), (j2) => each(outputs, ([q2, u4]) => `var a${j2}_${q2}_${u4} = 0.0;`))}
  ${K2 === 3 ? rowLoop : loop}
  ${// of them, and each storage read is a per-lane loop).
      bias ? each(range(OC2), (j2) => `let bias${j2} = bias[min(ocBase + ${j2}u, p.outC - 1u)];`) : ""}
  ${itemBias ? each(range(OC2), (j2) => `let itemBias${j2} = itemBias[b * p.outC + min(ocBase + ${j2}u, p.outC - 1u)];`) : ""}
  ${each(range(OC2), (j2) => each(outputs, ([q2, u4]) => `if (oy0 + ${q2}u < p.outH && ox0 + ${u4}u < p.outW && ocBase + ${j2}u < p.outC) {
    let i = ((b * p.outC + ocBase + ${j2}u) * p.outH + oy0 + ${q2}u) * p.outW + ox0 + ${u4}u;
    var v = a${j2}_${q2}_${u4}${add2(j2)};
    if (ACCUMULATE) { v += y[i]; }
    y[i] = v;
  }`))}
}`
    )
  };
}
async function directConvTexture(gpu, d3, args, flags) {
  const K2 = d3.kernel, S2 = d3.stride, P2 = (K2 - 1) / 2, KK = K2 * K2;
  const { ROWS, COLS: COLS2, OC: OC2 } = directTile(K2, S2);
  const tilesX = Math.ceil(d3.outW / COLS2), tilesY = Math.ceil(d3.outH / ROWS);
  const input = directInputLayout(d3);
  const ocGroups = Math.ceil(d3.outC / OC2);
  const wSize = [
    KK * input.C4,
    ocGroups * OC2
  ];
  if (!texturesFit(gpu, input.size, wSize)) return null;
  const given = flags.packed;
  if (given && (given.x !== args.x || !sameConvDims(given.dims, d3))) {
    throw new Error(`conv2d: the packed input given is not ${args.x.label}'s for this conv`);
  }
  const tx = given?.tx ?? operandTexture(gpu, input.size, "conv2d.packedInput");
  const tw = operandTexture(gpu, wSize, "conv2d.packedWeight");
  const packX = given ? [] : await packInput(gpu, args.x, tx, {
    C: d3.inC,
    H: d3.inH,
    W: d3.inW,
    pad: P2
  }, input);
  flags.keep?.({
    tx,
    layout: input,
    x: args.x,
    dims: d3
  });
  const packW = await createDispatch(gpu, packWeightKernel(flags.transposed), {
    w: args.weight,
    t: tw.staging
  }, [
    Math.ceil(wSize[0] / 8),
    Math.ceil(wSize[1] / 8)
  ], {
    inC: d3.inC,
    outC: d3.outC,
    C4: input.C4,
    KK,
    width: wSize[0],
    height: wSize[1],
    tPitch: tw.pitch
  });
  const positions = tilesX * tilesY * d3.batch;
  const buffers = {
    tx: tx.view,
    tw: tw.view,
    y: args.y
  };
  if (args.bias) buffers.bias = args.bias;
  if (args.itemBias) buffers.itemBias = args.itemBias;
  const conv2 = await createDispatch(gpu, directTextureKernel(K2, S2, !!args.bias, !!args.itemBias, flags.accumulate), buffers, [
    Math.ceil(positions / WG6),
    ocGroups
  ], {
    outC: d3.outC,
    outH: d3.outH,
    outW: d3.outW,
    C4: input.C4,
    rowsPerItem: input.rowsPerItem,
    tilesX,
    tilesY,
    positions
  });
  return [
    ...packX,
    ...hoisted([
      packW,
      tw.upload
    ]),
    conv2
  ];
}

// gpu/ops/conv2d/gradient_buffer.ts
var CT = 4;
function inputGradStride2Kernel(accumulate, wg) {
  const parity = {
    "0_0": [
      [
        0,
        0,
        1,
        1
      ]
    ],
    "0_1": [
      [
        0,
        1,
        1,
        0
      ],
      [
        0,
        0,
        1,
        2
      ]
    ],
    "1_0": [
      [
        1,
        0,
        0,
        1
      ],
      [
        0,
        0,
        2,
        1
      ]
    ],
    "1_1": [
      [
        1,
        1,
        0,
        0
      ],
      [
        1,
        0,
        0,
        2
      ],
      [
        0,
        1,
        2,
        0
      ],
      [
        0,
        0,
        2,
        2
      ]
    ]
  };
  return {
    name: "conv2dInputGradStride2",
    params: convParams2,
    bindings: {
      weight: "read",
      dy: "read",
      dx: "write"
    },
    consts: {
      WG: wg,
      CT,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.positions) { return; }
  // Here "in" is the conv's input (dx) and "out" its output (dy).
  let halfW = (p.inW + 1u) / 2u;
  let n = gid.x % halfW;
  let m = gid.x / halfW;
  let b = wid.z;
  let cBase = wid.y * CT;
  let m1 = m + 1u < p.outH;
  let n1 = n + 1u < p.outW;
  let o0_0 = m * p.outW + n;
  let o0_1 = select(o0_0, o0_0 + 1u, n1);
  let o1_0 = select(o0_0, o0_0 + p.outW, m1);
  let o1_1 = select(o0_0, o0_0 + p.outW + 1u, m1 && n1);
  ${each(range(CT), (j2) => `let c${j2} = min(cBase + ${j2}u, p.inC - 1u);`)}
  ${each(pairs(2, 2), ([r3, c3]) => each(range(CT), (j2) => `var a${r3}_${c3}_${j2} = 0.0;`))}
  let plane = p.outH * p.outW;
  var base = b * p.outC * plane;
  for (var o = 0u; o < p.outC; o++) {
    let d0_0 = dy[base + o0_0];
    let d0_1 = select(0.0, dy[base + o0_1], n1);
    let d1_0 = select(0.0, dy[base + o1_0], m1);
    let d1_1 = select(0.0, dy[base + o1_1], m1 && n1);
    ${each(range(CT), (j2) => `{ let wb = (o * p.inC + c${j2}) * 9u;
      ${each(pairs(3, 3), ([ky, kx]) => `let w${ky}${kx} = weight[wb + ${ky * 3 + kx}u];`)}
      ${each(Object.entries(parity), ([rc, list]) => list.map(([dr, dc, ky, kx]) => `a${rc}_${j2} = fma(d${dr}_${dc}, w${ky}${kx}, a${rc}_${j2});`).join(" "))} }`)}
    base += plane;
  }
  ${each(pairs(2, 2), ([r3, c3]) => each(range(CT), (j2) => `if (2u * m + ${r3}u < p.inH && 2u * n + ${c3}u < p.inW && cBase + ${j2}u < p.inC) {
    let i = ((b * p.inC + c${j2}) * p.inH + 2u * m + ${r3}u) * p.inW + 2u * n + ${c3}u;
    if (ACCUMULATE) { dx[i] = dx[i] + a${r3}_${c3}_${j2}; } else { dx[i] = a${r3}_${c3}_${j2}; }
  }`))}
}`
    )
  };
}
var weightTile = (kernel) => kernel === 3 ? 8 : 16;
function weightGradKernel(K2, S2, wg) {
  const P2 = (K2 - 1) / 2, KK = K2 * K2, OT = weightTile(K2);
  const window = pairs(K2, K2);
  const load = (ky, kx, ox) => `{ let ix = i32(${ox} * ${S2}u) + ${kx - P2};
      v${ky}_${kx} = select(0.0, x[xb + select(0u, u32(iy${ky} * inW + ix), rm${ky} && ix >= 0 && ix < inW)], rm${ky} && ix >= 0 && ix < inW); }`;
  return {
    name: `conv2dWeightGrad${K2}x${K2}s${S2}`,
    params: {
      ...convParams2,
      rowsPerSplit: "u32",
      rows: "u32"
    },
    bindings: {
      x: "read",
      dy: "read",
      out: "write"
    },
    consts: {
      WG: wg,
      OT,
      KK
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  let c = min(gid.x, p.inC - 1u);
  let oBase = wid.y * OT;
  let split = wid.z;
  let inW = i32(p.inW);
  ${each(range(OT), (j2) => `let o${j2} = min(oBase + ${j2}u, p.outC - 1u);`)}
  ${each(range(OT), (j2) => each(window, ([ky, kx]) => `var a${j2}_${ky}_${kx} = 0.0;`))}
  ${each(window, ([ky, kx]) => `var v${ky}_${kx} = 0.0;`)}
  let rowEnd = min((split + 1u) * p.rowsPerSplit, p.rows);
  for (var row = split * p.rowsPerSplit; row < rowEnd; row++) {
    let b = row / p.outH;
    let oy = row % p.outH;
    let xb = (b * p.inC + c) * p.inH * p.inW;
    ${each(range(K2), (ky) => `let iy${ky} = i32(oy * ${S2}u) + ${ky - P2};
    let rm${ky} = iy${ky} >= 0 && iy${ky} < i32(p.inH);`)}
    ${each(window, ([ky, kx]) => load(ky, kx, "0u"))}
    ${each(range(OT), (j2) => `let g${j2}base = ((b * p.outC + o${j2}) * p.outH + oy) * p.outW;`)}
    for (var ox = 0u; ox < p.outW; ox++) {
      ${each(range(OT), (j2) => `let g${j2} = dy[g${j2}base + ox];`)}
      ${each(range(OT), (j2) => each(window, ([ky, kx]) => `a${j2}_${ky}_${kx} = fma(g${j2}, v${ky}_${kx}, a${j2}_${ky}_${kx});`))}
      // Slide the window one output column: keep the columns that overlap, load the rest.
      ${each(window, ([ky, kx]) => kx + S2 < K2 ? `v${ky}_${kx} = v${ky}_${kx + S2};` : load(ky, kx, "(ox + 1u)"))}
    }
  }
  if (gid.x >= p.inC) { return; }
  let outBase = split * p.outC * p.inC * KK;
  ${each(range(OT), (j2) => `if (oBase + ${j2}u < p.outC) {
    ${each(window, ([ky, kx]) => `out[outBase + (o${j2} * p.inC + c) * KK + ${ky * K2 + kx}u] = a${j2}_${ky}_${kx};`)}
  }`)}
}`
    )
  };
}
var biasGradKernel = (wg) => ({
  name: "conv2dBiasGrad",
  params: {
    ...convParams2,
    rowsPerSplit: "u32",
    rows: "u32"
  },
  bindings: {
    dy: "read",
    out: "write"
  },
  consts: {
    WG: wg
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(workgroup_id) wid: vec3u) {
  if (gid.x >= p.outC) { return; }
  let o = gid.x;
  let split = wid.z;
  var s = 0.0;
  let rowEnd = min((split + 1u) * p.rowsPerSplit, p.rows);
  for (var row = split * p.rowsPerSplit; row < rowEnd; row++) {
    let base = ((row / p.outH * p.outC + o) * p.outH + row % p.outH) * p.outW;
    for (var ox = 0u; ox < p.outW; ox++) { s += dy[base + ox]; }
  }
  out[split * p.outC + o] = s;
}`
  )
});
var SUM_WG = 64;
var sumSplitsKernel = {
  name: "conv2dSumSplits",
  params: {
    n: "u32",
    splits: "u32"
  },
  bindings: {
    partial: "read",
    out: "write"
  },
  consts: {
    WG: SUM_WG
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += partial[k * p.n + i]; }
  out[i] = s;
}`
  )
};
function splitRows(gpu, rows, invocations) {
  const target = gpu.profile.conv2d.weightGradSplitTarget;
  const wanted = Math.min(rows, Math.max(1, Math.ceil(target / invocations)));
  const rowsPerSplit = Math.ceil(rows / wanted);
  return {
    rowsPerSplit,
    splits: Math.ceil(rows / rowsPerSplit)
  };
}
async function splitReduction(gpu, spec, buffers, out, groups2, params3, invocations) {
  const { rowsPerSplit, splits } = splitRows(gpu, params3.rows, invocations);
  const all = {
    ...params3,
    rowsPerSplit
  };
  if (splits === 1) {
    return [
      await createDispatch(gpu, spec, {
        ...buffers,
        out
      }, [
        ...groups2,
        1
      ], all)
    ];
  }
  const partial = createTensor(gpu, [
    splits,
    out.size
  ], "f32", `${spec.name}.partial`);
  return [
    await createDispatch(gpu, spec, {
      ...buffers,
      out: partial
    }, [
      ...groups2,
      splits
    ], all),
    await createDispatch(gpu, sumSplitsKernel, {
      partial,
      out
    }, grid1d(out.size, SUM_WG), {
      n: out.size,
      splits
    })
  ];
}
var paramsOf = (d3) => ({
  inC: d3.inC,
  outC: d3.outC,
  inH: d3.inH,
  inW: d3.inW,
  outH: d3.outH,
  outW: d3.outW
});
async function inputGradStride2Buffer(gpu, d3, args, accumulate) {
  const wg = gpu.profile.conv2d.laneWidth;
  const positions = Math.ceil(d3.inW / 2) * Math.ceil(d3.inH / 2);
  return [
    await createDispatch(gpu, inputGradStride2Kernel(accumulate, wg), args, [
      Math.ceil(positions / wg),
      Math.ceil(d3.inC / CT),
      d3.batch
    ], {
      ...paramsOf(d3),
      positions
    })
  ];
}
async function weightGradBuffer(gpu, d3, args) {
  const { x: x2, dy, dWeight, dBias } = args;
  const wg = gpu.profile.conv2d.laneWidth;
  const rows = d3.batch * d3.outH;
  const OT = weightTile(d3.kernel);
  const wGroups = [
    Math.ceil(d3.inC / wg),
    Math.ceil(d3.outC / OT)
  ];
  const out = await splitReduction(gpu, weightGradKernel(d3.kernel, d3.stride, wg), {
    x: x2,
    dy
  }, dWeight, wGroups, {
    ...paramsOf(d3),
    positions: 0,
    rows
  }, wGroups[0] * wGroups[1] * wg);
  if (dBias) {
    const bGroups = [
      Math.ceil(d3.outC / wg),
      1
    ];
    out.push(...await splitReduction(gpu, biasGradKernel(wg), {
      dy
    }, dBias, bGroups, {
      ...paramsOf(d3),
      positions: 0,
      rows
    }, bGroups[0] * wg));
  }
  return out;
}

// gpu/ops/conv2d/implicit_gemm_texture.ts
var packChannelRowsKernel = {
  name: "conv2dPackChannelRows",
  params: {
    channels: "u32",
    plane: "u32",
    count: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32"
  },
  bindings: {
    v: "read",
    t: "operand write"
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  let o = gid.y;
  var v4 = vec4f(0.0);
  if (o < p.channels) {
    // One division per texel: llvmpipe splits vector integer divisions into scalar ones.
    let i0 = gid.x * 4u;
    var b = i0 / p.plane;
    var pos = i0 - b * p.plane;
    for (var q = 0u; q < 4u; q++) {
      if (i0 + q < p.count) { v4[q] = v[(b * p.channels + o) * p.plane + pos]; }
      pos += 1u;
      if (pos == p.plane) { pos = 0u; b += 1u; }
    }
  }
  store_t(gid.xy, v4);
}`
  )
};
var packChannelRowsMirrorKernel = {
  name: "conv2dPackChannelRows",
  params: {
    channels: "u32",
    plane4: "u32",
    tPitch: "u32"
  },
  bindings: {
    v: "mirror read",
    t: "operand write"
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(16, 4) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.plane4 || gid.y >= p.channels) { return; }
  let b = gid.z;
  let texel = load_v((b * p.channels + gid.y) * p.plane4 + gid.x);
  store_t(vec2u(b * p.plane4 + gid.x, gid.y), texel);
}`
  )
};
async function packChannelRows(gpu, v3, t3, d3) {
  const [width, height] = t3.size;
  if (d3.plane % 4 === 0) {
    const vm = mirror(gpu, v3);
    const plane4 = d3.plane / 4;
    return [
      vm.refresh,
      await createDispatch(gpu, packChannelRowsMirrorKernel, {
        v: vm.view,
        t: t3.staging
      }, [
        Math.ceil(plane4 / 16),
        Math.ceil(d3.channels / 4),
        d3.count / d3.plane
      ], {
        channels: d3.channels,
        plane4,
        tPitch: t3.pitch
      }),
      t3.upload
    ];
  }
  return [
    await createDispatch(gpu, packChannelRowsKernel, {
      v: v3,
      t: t3.staging
    }, [
      Math.ceil(width / 8),
      Math.ceil(height / 8)
    ], {
      ...d3,
      width,
      height,
      tPitch: t3.pitch
    }),
    t3.upload
  ];
}
function im2colOperand(K2, S2, TN) {
  const J2 = TN / 4;
  const setup = range(J2).map((j2) => `let n4_${j2} = nt + ${j2}u;
  let tap${j2} = n4_${j2} / p.cvC4;
  let isTap${j2} = n4_${j2} < p.cvTaps4;
  let use${j2} = select(0u, 1u, isTap${j2});
  let off${j2} = select(vec2u(p.cvOnes, 0u),
                       vec2u(tap${j2} % ${K2}u * p.cvC4 + n4_${j2} % p.cvC4, tap${j2} / ${K2}u), isTap${j2});`).join("\n  ");
  const step = range(4).map((kk) => `  let at${kk} = vec2u(at.x, min(at.y, p.cvLastRow));
    ox += 1u;
    at.x += p.cvColStep;
    if (ox == p.cvOutW) {
      ox = 0u;
      at.x = 0u;
      oy += 1u;
      at.y += ${S2}u;
      if (oy == p.cvOutH) { oy = 0u; at.y += p.cvItemSkip; }
    }`).join("\n");
  return {
    name: `im2col${K2}s${S2}`,
    params: {
      cvC4: "u32",
      cvTaps4: "u32",
      cvOnes: "u32",
      cvPlane: "u32",
      cvOutW: "u32",
      cvOutH: "u32",
      cvColStep: "u32",
      cvItemSkip: "u32",
      cvRows: "u32",
      cvLastRow: "u32"
    },
    setup: `${setup}
  // Position of row k4Begin * 4, then advanced one row at a time.
  let kStart = k4Begin * 4u;
  let bStart = kStart / p.cvPlane;
  var oy = (kStart - bStart * p.cvPlane) / p.cvOutW;
  var ox = kStart - bStart * p.cvPlane - oy * p.cvOutW;
  var at = vec2u(ox * p.cvColStep, bStart * p.cvRows + oy * ${S2}u);`,
    step,
    load: (kk, j2) => `textureLoad(tB, at${kk} * use${j2} + off${j2})`
  };
}
var weightGradFinishKernel = (bias) => ({
  name: "conv2dWeightGradFinish",
  params: {
    inC: "u32",
    outC: "u32",
    KK: "u32",
    N: "u32",
    splits: "u32"
  },
  bindings: bias ? {
    g: "read",
    dWeight: "write",
    dBias: "write"
  } : {
    g: "read",
    dWeight: "write"
  },
  consts: {
    WG: 64
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x;
  let o = gid.y;
  let biasCol = p.N - 4u;
  if (o < p.outC) {
    if (c >= p.inC) { return; }
    for (var tap = 0u; tap < p.KK; tap++) {
      var s = 0.0;
      let col = o * p.N + tap * (biasCol / p.KK) + c;
      for (var q = 0u; q < p.splits; q++) { s += g[q * p.outC * p.N + col]; }
      dWeight[(o * p.inC + c) * p.KK + tap] = s;
    }
    return;
  }
  ${bias ? `for (var b = c; b < p.outC; b += nwg.x * WG) {
    var s = 0.0;
    for (var q = 0u; q < p.splits; q++) { s += g[(q * p.outC + b) * p.N + biasCol]; }
    dBias[b] = s;
  }` : ""}
}`
  )
});
var weightGradEpilogue = (bias) => ({
  name: "dW",
  bindings: bias ? {
    dWeight: "write",
    dBias: "write"
  } : {
    dWeight: "write"
  },
  params: {
    dwInC: "u32",
    dwKK: "u32"
  },
  code: (TM, J2) => range(TM).flatMap((i3) => [
    `if (m0 + ${i3}u < p.M) {`,
    `  let o${i3} = m0 + ${i3}u;`,
    ...range(J2).flatMap((j2) => [
      `  if (isTap${j2}) {`,
      `    let c${i3}_${j2} = 4u * (n4_${j2} - tap${j2} * p.cvC4);`,
      ...range(4).map((q2) => `    if (c${i3}_${j2} + ${q2}u < p.dwInC) { dWeight[(o${i3} * p.dwInC + c${i3}_${j2} + ${q2}u) * p.dwKK + tap${j2}] = acc${i3}_${j2}.${XYZW[q2]}; }`),
      bias ? `  } else if (n4_${j2} == p.cvTaps4) { dBias[o${i3}] = acc${i3}_${j2}.x; }` : "  }"
    ]),
    "}"
  ])
});
function gemmSplits(gpu, M2, N2, K4) {
  const plan = operandPlan(gpu);
  const tiles = Math.ceil(M2 / plan.textureTile.TM) * Math.ceil(N2 / plan.textureTile.TN);
  const { splits, kChunk } = kChunks(4 * K4, chooseSplits(tiles, 4 * K4, plan.conv2d.implicitGemmSplitK));
  return {
    splits,
    kChunk4: kChunk / 4
  };
}
async function weightGradTexture(gpu, d3, args, forward) {
  const K2 = d3.kernel, S2 = d3.stride, P2 = (K2 - 1) / 2, KK = K2 * K2;
  const reuse = forward && forward.x === args.x && sameConvDims(forward.dims, d3) ? forward : void 0;
  const input = reuse?.layout ?? paddedInput(d3, (d3.outH - 1) * S2 + K2, (d3.outW - 1) * S2 + K2, 1);
  const plane = d3.outH * d3.outW, count = d3.batch * plane;
  const M2 = d3.outC, N2 = KK * input.C4 * 4 + 4, K4 = Math.ceil(count / 4);
  const tile = operandPlan(gpu).textureTile;
  const aSize = [
    K4,
    Math.ceil(M2 / tile.TM) * tile.TM
  ];
  if (!texturesFit(gpu, input.size, aSize)) return null;
  const tx = reuse?.tx ?? operandTexture(gpu, input.size, "conv2d.packedInput");
  const tA = operandTexture(gpu, aSize, "conv2d.packedDy");
  const { splits, kChunk4 } = gemmSplits(gpu, M2, N2, K4);
  const outputs = {
    dWeight: args.dWeight
  };
  if (args.dBias) outputs.dBias = args.dBias;
  const g3 = splits > 1 ? createTensor(gpu, [
    splits,
    M2,
    N2
  ], "f32", "conv2d.weightGradGemm") : null;
  const finish = g3 ? [
    await createDispatch(gpu, weightGradFinishKernel(!!args.dBias), {
      g: g3,
      ...outputs
    }, [
      Math.ceil(d3.inC / 64),
      d3.outC + (args.dBias ? 1 : 0)
    ], {
      inC: d3.inC,
      outC: d3.outC,
      KK,
      N: N2,
      splits
    })
  ] : [];
  return [
    ...reuse ? [] : await packInput(gpu, args.x, tx, {
      C: d3.inC,
      H: d3.inH,
      W: d3.inW,
      pad: P2
    }, input),
    ...await packChannelRows(gpu, args.dy, tA, {
      channels: d3.outC,
      plane,
      count
    }),
    await textureGemm(gpu, {
      tA: tA.view,
      tB: tx.view,
      c: g3 ?? {
        epilogue: weightGradEpilogue(!!args.dBias),
        buffers: outputs
      },
      M: M2,
      N: N2,
      K4,
      itemRowsA: 0,
      itemRowsB: 0,
      strideC: M2 * N2,
      items: 1,
      splits,
      kChunk4,
      flags: {
        bias: false,
        accumulate: false,
        vecC: true
      },
      operandB: im2colOperand(K2, S2, tile.TN),
      operandParams: {
        cvC4: input.C4,
        cvTaps4: KK * input.C4,
        cvOnes: input.cols * input.C4,
        cvPlane: plane,
        cvOutW: d3.outW,
        cvOutH: d3.outH,
        cvColStep: S2 * input.C4,
        cvItemSkip: input.rowsPerItem - d3.outH * S2,
        cvRows: input.rowsPerItem,
        cvLastRow: d3.batch * input.rowsPerItem - 1,
        ...g3 ? {} : {
          dwInC: d3.inC,
          dwKK: KK
        }
      }
    }),
    ...finish
  ];
}
var packWeightColumnsKernel = {
  name: "conv2dPackWeightColumns",
  params: {
    O: "u32",
    M: "u32",
    width: "u32",
    height: "u32",
    tPitch: "u32"
  },
  bindings: {
    w: "read",
    t: "operand write"
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.width || gid.y >= p.height) { return; }
  var v = vec4f(0.0);
  if (gid.y < p.M) {
    for (var q = 0u; q < 4u; q++) {
      let o = gid.x * 4u + q;
      if (o < p.O) { v[q] = w[o * p.M + gid.y]; }
    }
  }
  store_t(gid.xy, v);
}`
  )
};
var col2imKernel = (accumulate) => {
  const parity = {
    "0_0": [
      [
        0,
        0,
        1,
        1
      ]
    ],
    "0_1": [
      [
        0,
        1,
        1,
        0
      ],
      [
        0,
        0,
        1,
        2
      ]
    ],
    "1_0": [
      [
        1,
        0,
        0,
        1
      ],
      [
        0,
        0,
        2,
        1
      ]
    ],
    "1_1": [
      [
        1,
        1,
        0,
        0
      ],
      [
        1,
        0,
        0,
        2
      ],
      [
        0,
        1,
        2,
        0
      ],
      [
        0,
        0,
        2,
        2
      ]
    ]
  };
  const read = ([dr, dc, ky, kx]) => {
    const mask = [
      dr ? "m1" : "",
      dc ? "n1" : ""
    ].filter(Boolean).join(" && ");
    const at = `(c * 9u + ${ky * 3 + kx}u) * p.N + pos + ${dr ? "p.outW" : "0u"} + ${dc}u`;
    return mask ? `select(0.0, g[q * p.splitStride + select(0u, ${at}, ${mask})], ${mask})` : `g[q * p.splitStride + ${at}]`;
  };
  return {
    name: "conv2dCol2im",
    params: {
      C: "u32",
      H: "u32",
      W: "u32",
      outH: "u32",
      outW: "u32",
      N: "u32",
      splitStride: "u32",
      splits: "u32"
    },
    bindings: {
      g: "read",
      dx: "write"
    },
    consts: {
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `
@compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) gid: vec3u) {
  // Block (m, n) of plane (b, c); dcol's columns are (b, oy, ox) with oy < outH = ceil(H / 2).
  // A 3-D grid: llvmpipe splits vector integer divisions into scalar ones.
  let n = gid.x;
  let m = gid.y;
  if (n >= p.outW || m >= p.outH) { return; }
  let b = gid.z / p.C;
  let c = gid.z - b * p.C;
  let m1 = m + 1u < p.outH;
  let n1 = n + 1u < p.outW;
  let pos = (b * p.outH + m) * p.outW + n;
  ${each(Object.keys(parity), (rc) => `var s${rc} = 0.0;`)}
  for (var q = 0u; q < p.splits; q++) {
    ${each(Object.entries(parity), ([rc, taps]) => `s${rc} += ${taps.map(read).join(" + ")};`)}
  }
  ${each(pairs(2, 2), ([r3, t3]) => `if (2u * m + ${r3}u < p.H && 2u * n + ${t3}u < p.W) {
    let o = ((b * p.C + c) * p.H + 2u * m + ${r3}u) * p.W + 2u * n + ${t3}u;
    var v = s${r3}_${t3};
    if (ACCUMULATE) { v += dx[o]; }
    dx[o] = v;
  }`)}
}`
    )
  };
};
async function inputGradStride2Texture(gpu, d3, args, accumulate) {
  const KK = 9, plane = d3.outH * d3.outW;
  const M2 = d3.inC * KK, N2 = d3.batch * plane, K4 = Math.ceil(d3.outC / 4);
  const tile = operandPlan(gpu).textureTile;
  const aSize = [
    K4,
    Math.ceil(M2 / tile.TM) * tile.TM
  ];
  const bSize = [
    Math.ceil(N2 / tile.TN) * tile.TN / 4,
    K4 * 4
  ];
  const planes = d3.batch * d3.inC;
  if (!texturesFit(gpu, aSize, bSize) || planes > gpu.limits.maxComputeWorkgroupsPerDimension) {
    return null;
  }
  const tA = operandTexture(gpu, aSize, "conv2d.packedWeightT");
  const tB = operandTexture(gpu, bSize, "conv2d.packedDy");
  const { splits, kChunk4 } = gemmSplits(gpu, M2, N2, K4);
  const g3 = createTensor(gpu, [
    splits,
    M2,
    N2
  ], "f32", "conv2d.dcol");
  return [
    ...hoisted([
      await createDispatch(gpu, packWeightColumnsKernel, {
        w: args.weight,
        t: tA.staging
      }, [
        Math.ceil(aSize[0] / 8),
        Math.ceil(aSize[1] / 8)
      ], {
        O: d3.outC,
        M: M2,
        width: aSize[0],
        height: aSize[1],
        tPitch: tA.pitch
      }),
      tA.upload
    ]),
    ...await packChannelRows(gpu, args.dy, tB, {
      channels: d3.outC,
      plane,
      count: N2
    }),
    await textureGemm(gpu, {
      tA: tA.view,
      tB: tB.view,
      c: g3,
      M: M2,
      N: N2,
      K4,
      itemRowsA: 0,
      itemRowsB: 0,
      strideC: M2 * N2,
      items: 1,
      splits,
      kChunk4,
      flags: {
        bias: false,
        accumulate: false,
        vecC: N2 % 4 === 0
      }
    }),
    await createDispatch(gpu, col2imKernel(accumulate), {
      g: g3,
      dx: args.dx
    }, [
      Math.ceil(d3.outW / 8),
      Math.ceil(d3.outH / 8),
      planes
    ], {
      C: d3.inC,
      H: d3.inH,
      W: d3.inW,
      outH: d3.outH,
      outW: d3.outW,
      N: N2,
      splitStride: M2 * N2,
      splits
    })
  ];
}

// gpu/ops/conv2d/conv2d.ts
function conv2dInputTarget(gpu, args) {
  const plan = operandPlan(gpu).conv2d;
  if (plan.forward !== "texture" || plan.weightGrad !== "texture") return null;
  const g3 = conv2dGeometry(args.shape);
  expectSize2(args.x, g3.batch * g3.inChannels * g3.height * g3.width, "x");
  return directInputTarget(gpu, convDims(g3), args.x);
}
async function conv2dUpsampledInput(gpu, args) {
  if (args.shape.width / 2 % 4) return null;
  const target = conv2dInputTarget(gpu, {
    x: args.y,
    shape: args.shape
  });
  const dispatches = target && await packUpsampledInput(gpu, args.x, target);
  return dispatches ? {
    dispatches,
    written: target
  } : null;
}
async function conv2dForward(gpu, args) {
  const g3 = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, outHeight, outWidth } = g3;
  expectSize2(args.x, batch * inChannels * height * width, "x");
  expectSize2(args.weight, outChannels * inChannels * kernel * kernel, "weight");
  if (args.bias) expectSize2(args.bias, outChannels, "bias");
  if (args.itemBias) expectSize2(args.itemBias, batch * outChannels, "itemBias");
  expectSize2(args.y, batch * outChannels * outHeight * outWidth, "y");
  const dims2 = convDims(g3);
  const accumulate = args.accumulate ?? false;
  if (operandPlan(gpu).conv2d.forward === "texture") {
    const keep = args.inputSlot && ((p3) => args.inputSlot.packed = p3);
    const packed = await directConvTexture(gpu, dims2, args, {
      transposed: false,
      accumulate,
      keep,
      packed: args.inputSlot?.written
    });
    if (packed) return packed;
  }
  if (args.inputSlot?.written) {
    throw new Error(`conv2d: ${args.x.label}'s packed input was written, but this conv cannot read it`);
  }
  const buffers = {
    x: args.x,
    weight: args.weight,
    y: args.y
  };
  if (args.bias) buffers.bias = args.bias;
  const out = [
    await directConvBuffer(gpu, dims2, buffers, {
      transposed: false,
      bias: !!args.bias,
      accumulate
    })
  ];
  if (args.itemBias) {
    out.push(await addChannelBias(gpu, {
      x: args.y,
      bias: args.itemBias,
      batch,
      channels: outChannels,
      spatial: outHeight * outWidth
    }));
  }
  return out;
}
async function conv2dBackward(gpu, args) {
  const g3 = conv2dGeometry(args.shape);
  const { batch, inChannels, outChannels, height, width, kernel, stride } = g3;
  const { x: x2, weight, dy, dx, dWeight, dBias } = args;
  expectSize2(x2, batch * inChannels * height * width, "x");
  expectSize2(weight, outChannels * inChannels * kernel * kernel, "weight");
  expectSize2(dy, batch * outChannels * g3.outHeight * g3.outWidth, "dy");
  expectSize2(dWeight, weight.size, "dWeight");
  if (dx) expectSize2(dx, x2.size, "dx");
  if (dBias) expectSize2(dBias, outChannels, "dBias");
  const plan = operandPlan(gpu).conv2d;
  const accumulate = !!args.accumulateDx;
  const dims2 = convDims(g3);
  const out = [];
  if (dx && stride === 1) {
    const transposed = {
      batch,
      inC: outChannels,
      outC: inChannels,
      inH: g3.outHeight,
      inW: g3.outWidth,
      outH: height,
      outW: width,
      kernel,
      stride: 1
    };
    const buffers = {
      x: dy,
      weight,
      y: dx
    };
    const packed2 = plan.inputGrad === "texture" && await directConvTexture(gpu, transposed, buffers, {
      transposed: true,
      accumulate
    });
    const flags = {
      transposed: true,
      bias: false,
      accumulate
    };
    out.push(...packed2 || [
      await directConvBuffer(gpu, transposed, buffers, flags)
    ]);
  } else if (dx) {
    const packed2 = plan.inputGrad === "texture" && await inputGradStride2Texture(gpu, dims2, {
      weight,
      dy,
      dx
    }, accumulate);
    out.push(...packed2 || await inputGradStride2Buffer(gpu, dims2, {
      weight,
      dy,
      dx
    }, accumulate));
  }
  const packed = plan.weightGrad === "texture" && await weightGradTexture(gpu, dims2, {
    x: x2,
    dy,
    dWeight,
    dBias
  }, args.inputSlot?.packed);
  out.push(...packed || await weightGradBuffer(gpu, dims2, {
    x: x2,
    dy,
    dWeight,
    dBias
  }));
  return out;
}

// gpu/ops/group_norm.ts
var WORKGROUP_SUM_WGSL = (
  /* wgsl */
  `
var<workgroup> partial: array<vec2f, WG>;
fn workgroup_sum(v: vec2f, lid: u32) -> vec2f {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = partial[lid] + partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // partial is reused by the next call
  return total;
}
`
);
function reducerWgsl(r3) {
  if (r3 === "workgroup") {
    return {
      prelude: WORKGROUP_SUM_WGSL,
      entry: (
        /* wgsl */
        `@compute @workgroup_size(WG) fn main(@builtin(workgroup_id) wid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u,
                                     @builtin(local_invocation_index) lid: u32) {
  let item = wid.x + wid.y * nwg.x;
  let lane = lid;
  let lanes = WG;`
      ),
      sum: (v3) => `workgroup_sum(${v3}, lid)`
    };
  }
  return {
    prelude: "",
    entry: (
      /* wgsl */
      `@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let item = flat_id(gid, nwg, WG);
  let lane = 0u;
  let lanes = 1u;`
    ),
    sum: (v3) => v3
  };
}
function reducerFor(gpu) {
  return {
    reducer: gpu.profile.groupNorm.reducer,
    wg: gpu.profile.groupNorm.workgroupSize
  };
}
var reducerGrid = (r3, wg, count) => r3 === "invocation" ? grid1d(count, wg) : grid1d(count, 1);
var dims = {
  batch: "u32",
  channels: "u32",
  spatial: "u32",
  groups: "u32"
};
var widthOf = (spatial) => spatial % 4 === 0 ? 4 : 1;
function vectorWgsl(w3) {
  return w3 === 4 ? `alias V = vec4f;
fn hsum(v: V) -> f32 { return dot(v, vec4f(1.0)); }
fn firstOf(v: V) -> f32 { return v.x; }` : `alias V = f32;
fn hsum(v: V) -> f32 { return v; }
fn firstOf(v: V) -> f32 { return v; }`;
}
var arrayOf = (w3) => f32Array(w3 === 4);
function forwardKernel(wg, silu, w3, r3) {
  const a4 = arrayOf(w3);
  const red = reducerWgsl(r3);
  return {
    name: silu ? "groupNormSiluForward" : "groupNormForward",
    params: {
      ...dims,
      eps: "f32"
    },
    bindings: {
      x: `read ${a4}`,
      gamma: "read",
      beta: "read",
      y: `write ${a4}`,
      mean: "write",
      rstd: "write"
    },
    consts: {
      WG: wg,
      SILU: silu,
      W: w3
    },
    code: (
      /* wgsl */
      `${red.prelude}
${vectorWgsl(w3)}
${red.entry}
  let bg = item; // b * groups + g
  if (bg >= p.batch * p.groups) { return; }
  let sv = p.spatial / W; // V values per channel
  let nv = (p.channels / p.groups) * sv;
  let n = f32(nv * W);
  let base = bg * nv;
  // One pass over offsets from the group's first value: E[d^2] - E[d]^2 with d = x - pivot keeps
  // the variance accurate when |mean| >> std (d is of the order of std), as torch's Welford does.
  let pivot = firstOf(x[base]);
  var s = V(0.0);
  var q = V(0.0);
  for (var i = lane; i < nv; i += lanes) { let d = x[base + i] - pivot; s += d; q += d * d; }
  let t = ${red.sum("vec2f(hsum(s), hsum(q))")} / n;
  let mu = pivot + t.x;
  let r = inverseSqrt(max(t.y - t.x * t.x, 0.0) + p.eps);
  if (lane == 0u) { mean[bg] = mu; rstd[bg] = r; }
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    var v = (x[base + i] - mu) * (r * gamma[c]) + beta[c];
    if (SILU) { v = v / (1.0 + exp(-v)); }
    y[base + i] = v;
  }
}`
    )
  };
}
function checkGroups(channels, groups2) {
  if (channels % groups2 !== 0) {
    throw new Error(`group norm: ${channels} channels do not split into ${groups2} groups`);
  }
}
function mirrorLayoutFor(gpu, a4) {
  if (a4.mirrors === false || gpu.profile.groupNorm.reducer !== "invocation") return null;
  return mirrorLayout(a4.channels, a4.spatial, a4.groups);
}
function mirrored(gpu, tensors) {
  const refresh = [];
  const views = {};
  for (const [name, t3] of Object.entries(tensors)) {
    const m3 = mirror(gpu, t3);
    refresh.push(m3.refresh);
    views[name] = m3.view;
  }
  return {
    refresh,
    views
  };
}
async function groupNormForward(gpu, args) {
  const { x: x2, gamma, beta, y: y3, mean, rstd, batch, channels, spatial, groups: groups2, eps } = args;
  checkGroups(channels, groups2);
  const { reducer, wg } = reducerFor(gpu);
  const params3 = {
    batch,
    channels,
    spatial,
    groups: groups2,
    eps
  };
  const layout = mirrorLayoutFor(gpu, args);
  if (layout) {
    const m3 = mirrored(gpu, layout === "spatial" ? {
      x: x2
    } : {
      x: x2,
      gamma,
      beta
    });
    const affine = layout === "spatial" ? {
      gamma,
      beta
    } : {};
    return [
      ...m3.refresh,
      await createDispatch(gpu, forwardMirrorKernel(wg, args.silu ?? false, layout), {
        ...m3.views,
        ...affine,
        y: y3,
        mean,
        rstd
      }, reducerGrid(reducer, wg, batch * groups2), params3)
    ];
  }
  return [
    await createDispatch(gpu, forwardKernel(wg, args.silu ?? false, widthOf(spatial), reducer), {
      x: x2,
      gamma,
      beta,
      y: y3,
      mean,
      rstd
    }, reducerGrid(reducer, wg, batch * groups2), params3)
  ];
}
function upstreamWgsl(silu) {
  return silu ? (
    /* wgsl */
    `
fn upstream(dyv: V, xhat: V, c: u32) -> V {
  let z = xhat * gamma[c] + beta[c];
  let sg = 1.0 / (1.0 + exp(-z));
  return dyv * sg * (1.0 + z * (1.0 - sg));
}`
  ) : "fn upstream(dyv: V, xhat: V, c: u32) -> V { return dyv; }";
}
function backwardInputKernel(wg, silu, accumulate, w3, r3) {
  const a4 = arrayOf(w3);
  const red = reducerWgsl(r3);
  return {
    name: silu ? "groupNormSiluBackwardInput" : "groupNormBackwardInput",
    params: dims,
    bindings: {
      x: `read ${a4}`,
      gamma: "read",
      ...silu ? {
        beta: "read"
      } : {},
      mean: "read",
      rstd: "read",
      dy: `read ${a4}`,
      dx: `write ${a4}`
    },
    consts: {
      WG: wg,
      SILU: silu,
      ACCUMULATE: accumulate,
      W: w3
    },
    code: (
      /* wgsl */
      `${red.prelude}
${vectorWgsl(w3)}
${upstreamWgsl(silu)}
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dz * gamma.
${red.entry}
  let bg = item;
  if (bg >= p.batch * p.groups) { return; }
  let sv = p.spatial / W;
  let nv = (p.channels / p.groups) * sv;
  let base = bg * nv;
  let c0 = (bg % p.groups) * (p.channels / p.groups);
  let mu = mean[bg];
  let r = rstd[bg];
  var sumG = V(0.0);
  var sumGX = V(0.0);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    sumG += g;
    sumGX += g * xhat;
  }
  let m = ${red.sum("vec2f(hsum(sumG), hsum(sumGX))")} / f32(nv * W);
  for (var i = lane; i < nv; i += lanes) {
    let c = c0 + i / sv;
    let xhat = (x[base + i] - mu) * r;
    let g = upstream(dy[base + i], xhat, c) * gamma[c];
    let d = r * (g - m.x - xhat * m.y);
    if (ACCUMULATE) { dx[base + i] = dx[base + i] + d; } else { dx[base + i] = d; }
  }
}`
    )
  };
}
function backwardParamsKernel(wg, silu, w3, r3) {
  const a4 = arrayOf(w3);
  const red = reducerWgsl(r3);
  return {
    name: silu ? "groupNormSiluBackwardParams" : "groupNormBackwardParams",
    params: dims,
    bindings: {
      x: `read ${a4}`,
      ...silu ? {
        gamma: "read",
        beta: "read"
      } : {},
      mean: "read",
      rstd: "read",
      dy: `read ${a4}`,
      dGamma: "write",
      dBeta: "write"
    },
    consts: {
      WG: wg,
      SILU: silu,
      W: w3
    },
    code: (
      /* wgsl */
      `${red.prelude}
${vectorWgsl(w3)}
${upstreamWgsl(silu)}
// Per channel c: dGamma[c] = sum_{b,s} dz * xhat, dBeta[c] = sum_{b,s} dz.
${red.entry}
  let c = item;
  if (c >= p.channels) { return; }
  let g = c / (p.channels / p.groups);
  let sv = p.spatial / W;
  let n = p.batch * sv;
  var sumGX = V(0.0);
  var sumG = V(0.0);
  for (var j = lane; j < n; j += lanes) {
    let b = j / sv;
    let i = (b * p.channels + c) * sv + (j - b * sv);
    let bg = b * p.groups + g;
    let xhat = (x[i] - mean[bg]) * rstd[bg];
    let dz = upstream(dy[i], xhat, c);
    sumGX += dz * xhat;
    sumG += dz;
  }
  let total = ${red.sum("vec2f(hsum(sumGX), hsum(sumG))")};
  if (lane == 0u) { dGamma[c] = total.x; dBeta[c] = total.y; }
}`
    )
  };
}
async function groupNormBackward(gpu, args) {
  const { x: x2, gamma, beta, mean, rstd, dy, dx, dGamma, dBeta, batch, channels, spatial, groups: groups2 } = args;
  checkGroups(channels, groups2);
  const silu = args.silu ?? false;
  const { reducer, wg } = reducerFor(gpu);
  const params3 = {
    batch,
    channels,
    spatial,
    groups: groups2
  };
  const layout = mirrorLayoutFor(gpu, args);
  if (layout) {
    const spatialLayout = layout === "spatial";
    const m3 = mirrored(gpu, spatialLayout ? {
      x: x2,
      dy
    } : {
      x: x2,
      dy,
      gamma,
      beta
    });
    const affine = spatialLayout ? {
      gamma,
      beta
    } : {};
    const dxView = {
      ...m3.views,
      ...affine
    };
    const grid = reducerGrid(reducer, wg, batch * groups2);
    const dxKernel = backwardInputMirrorKernel(wg, silu, args.accumulateDx ?? false, layout);
    if (!spatialLayout) {
      const paramViews = silu ? dxView : {
        x: m3.views.x,
        dy: m3.views.dy
      };
      return [
        ...m3.refresh,
        await createDispatch(gpu, dxKernel, {
          ...dxView,
          mean,
          rstd,
          dx
        }, grid, params3),
        await createDispatch(gpu, backwardParamsMirrorKernel(wg, silu), {
          ...paramViews,
          mean,
          rstd,
          dGamma,
          dBeta
        }, reducerGrid(reducer, wg, channels / 4), params3)
      ];
    }
    const partialGX = createTensor(gpu, [
      batch,
      channels
    ], "f32", "groupNorm.partialGX");
    const partialG = createTensor(gpu, [
      batch,
      channels
    ], "f32", "groupNorm.partialG");
    return [
      ...m3.refresh,
      await createDispatch(gpu, dxKernel, {
        ...dxView,
        mean,
        rstd,
        dx,
        partialGX,
        partialG
      }, grid, params3),
      await sumRows(gpu, {
        x: partialGX,
        y: dGamma,
        rows: batch,
        cols: channels
      }),
      await sumRows(gpu, {
        x: partialG,
        y: dBeta,
        rows: batch,
        cols: channels
      })
    ];
  }
  const betaIfSilu = silu ? {
    beta
  } : {};
  return [
    await createDispatch(gpu, backwardInputKernel(wg, silu, args.accumulateDx ?? false, widthOf(spatial), reducer), {
      x: x2,
      gamma,
      ...betaIfSilu,
      mean,
      rstd,
      dy,
      dx
    }, reducerGrid(reducer, wg, batch * groups2), params3),
    await createDispatch(gpu, backwardParamsKernel(wg, silu, widthOf(spatial), reducer), {
      x: x2,
      ...silu ? {
        gamma
      } : {},
      ...betaIfSilu,
      mean,
      rstd,
      dy,
      dGamma,
      dBeta
    }, reducerGrid(reducer, wg, channels), params3)
  ];
}
function mirrorLayout(channels, spatial, groups2) {
  if (spatial % 4 === 0) return "spatial";
  if (spatial === 1 && channels / groups2 % 4 === 0) return "channels";
  return null;
}
function groupLoop(l3, affine, body) {
  if (l3 === "spatial") {
    return `for (var ch = 0u; ch < cpg; ch++) {
    ${affine ? "let gm = vec4f(gamma[c0 + ch]); let bt = vec4f(beta[c0 + ch]);" : ""}
    for (var k = 0u; k < s4; k++) {
      let i = base + ch * s4 + k;
      ${body}
    }
  }`;
  }
  return `for (var k = 0u; k < nv; k++) {
    let i = base + k;
    ${affine ? "let gm = load_gamma(c0 / 4u + k); let bt = load_beta(c0 / 4u + k);" : ""}
    ${body}
  }`;
}
var GROUP_STATS = (
  /* wgsl */
  `
  // Offsets from the group's first value, as the buffer kernel (see forwardKernel).
  let pivot = load_x(base).x;
  var s = vec4f(0.0);
  var q = vec4f(0.0);
  for (var k = 0u; k < nv; k++) { let d = load_x(base + k) - pivot; s += d; q += d * d; }
  let t = vec2f(dot(s, vec4f(1.0)), dot(q, vec4f(1.0))) / f32(nv * 4u);
  let mu = pivot + t.x;
  let r = inverseSqrt(max(t.y - t.x * t.x, 0.0) + p.eps);
  mean[bg] = mu;
  rstd[bg] = r;`
);
var GROUP_SETUP = (
  /* wgsl */
  `
  let cpg = p.channels / p.groups;
  let s4 = p.spatial / 4u; // texels per channel (spatial layout)
  let nv = cpg * p.spatial / 4u; // texels per group
  let base = bg * nv;
  let c0 = (bg % p.groups) * cpg;`
);
var GROUP_FORWARD_HEAD = (
  /* wgsl */
  `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_id(gid, nwg, WG); // b * groups + g
  if (bg >= p.batch * p.groups) { return; }
  ${GROUP_SETUP}
  ${GROUP_STATS}`
);
function affineBindings(l3) {
  return l3 === "spatial" ? {
    gamma: "read",
    beta: "read"
  } : {
    gamma: "mirror read",
    beta: "mirror read"
  };
}
function forwardMirrorKernel(wg, silu, l3) {
  return {
    name: silu ? "groupNormSiluForward" : "groupNormForward",
    params: {
      ...dims,
      eps: "f32"
    },
    bindings: {
      x: "mirror read",
      ...affineBindings(l3),
      y: "write array<vec4<f32>>",
      mean: "write",
      rstd: "write"
    },
    consts: {
      WG: wg,
      SILU: silu
    },
    code: (
      /* wgsl */
      `
${GROUP_FORWARD_HEAD}
  ${groupLoop(l3, true, `var v = (load_x(i) - mu) * (r * gm) + bt;
      if (SILU) { v = v / (1.0 + exp(-v)); }
      y[i] = v;`)}
}`
    )
  };
}
function upstreamMirrorWgsl(silu) {
  return silu ? (
    /* wgsl */
    `
fn upstream(dyv: vec4f, xhat: vec4f, gm: vec4f, bt: vec4f) -> vec4f {
  let z = xhat * gm + bt;
  let sg = 1.0 / (1.0 + exp(-z));
  return dyv * sg * (1.0 + z * (1.0 - sg));
}`
  ) : "fn upstream(dyv: vec4f, xhat: vec4f, gm: vec4f, bt: vec4f) -> vec4f { return dyv; }";
}
function backwardInputMirrorKernel(wg, silu, accumulate, l3) {
  const spatial = l3 === "spatial";
  const dz = `let xhat = (load_x(i) - mu) * r;
      let dz = upstream(load_dy(i), xhat, gm, bt);
      let g = dz * gm;`;
  const g3 = `let xhat = (load_x(i) - mu) * r;
      let g = upstream(load_dy(i), xhat, gm, bt) * gm;`;
  const firstPass = spatial ? `for (var ch = 0u; ch < cpg; ch++) {
    let gm = vec4f(gamma[c0 + ch]);
    let bt = vec4f(beta[c0 + ch]);
    var pGX = vec4f(0.0);
    var pG = vec4f(0.0);
    for (var k = 0u; k < s4; k++) {
      let i = base + ch * s4 + k;
      ${dz}
      sumG += g;
      sumGX += g * xhat;
      pGX += dz * xhat;
      pG += dz;
    }
    let at = (bg / p.groups) * p.channels + c0 + ch;
    partialGX[at] = dot(pGX, vec4f(1.0));
    partialG[at] = dot(pG, vec4f(1.0));
  }` : groupLoop(l3, true, `${g3}
      sumG += g;
      sumGX += g * xhat;`);
  return {
    name: silu ? "groupNormSiluBackwardInput" : "groupNormBackwardInput",
    params: dims,
    bindings: {
      x: "mirror read",
      ...affineBindings(l3),
      mean: "read",
      rstd: "read",
      dy: "mirror read",
      dx: "write array<vec4<f32>>",
      ...spatial ? {
        partialGX: "write",
        partialG: "write"
      } : {}
    },
    consts: {
      WG: wg,
      ACCUMULATE: accumulate
    },
    code: (
      /* wgsl */
      `${upstreamMirrorWgsl(silu)}
// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dz * gamma.
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let bg = flat_id(gid, nwg, WG);
  if (bg >= p.batch * p.groups) { return; }
  ${GROUP_SETUP}
  let mu = mean[bg];
  let r = rstd[bg];
  var sumG = vec4f(0.0);
  var sumGX = vec4f(0.0);
  ${firstPass}
  let m = vec2f(dot(sumG, vec4f(1.0)), dot(sumGX, vec4f(1.0))) / f32(nv * 4u);
  ${groupLoop(l3, true, `${g3}
      var d = r * (g - m.x - xhat * m.y);
      if (ACCUMULATE) { d += dx[i]; }
      dx[i] = d;`)}
}`
    )
  };
}
function backwardParamsMirrorKernel(wg, silu) {
  return {
    name: silu ? "groupNormSiluBackwardParams" : "groupNormBackwardParams",
    params: dims,
    bindings: {
      x: "mirror read",
      ...silu ? {
        gamma: "mirror read",
        beta: "mirror read"
      } : {},
      mean: "read",
      rstd: "read",
      dy: "mirror read",
      dGamma: "write array<vec4<f32>>",
      dBeta: "write array<vec4<f32>>"
    },
    consts: {
      WG: wg
    },
    code: (
      /* wgsl */
      `${upstreamMirrorWgsl(silu)}
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_id(gid, nwg, WG); // feature quad
  if (c * 4u >= p.channels) { return; }
  let g = c * 4u / (p.channels / p.groups);
  let gm = ${silu ? "load_gamma(c)" : "vec4f(1.0)"};
  let bt = ${silu ? "load_beta(c)" : "vec4f(0.0)"};
  var sumGX = vec4f(0.0);
  var sumG = vec4f(0.0);
  for (var b = 0u; b < p.batch; b++) {
    let bg = b * p.groups + g;
    let mu = mean[bg];
    let r = rstd[bg];
    let i = (b * p.channels) / 4u + c;
    let xhat = (load_x(i) - mu) * r;
    let dz = upstream(load_dy(i), xhat, gm, bt);
    sumGX += dz * xhat;
    sumG += dz;
  }
  dGamma[c] = sumGX;
  dBeta[c] = sumG;
}`
    )
  };
}

// gpu/ops/group_norm_into_conv.ts
var intoConvKernel = (wg, pad, dropout2) => ({
  name: dropout2 ? "groupNormSiluDropoutIntoConv" : "groupNormSiluIntoConv",
  params: {
    batch: "u32",
    channels: "u32",
    spatial: "u32",
    groups: "u32",
    eps: "f32",
    width: "u32",
    C4: "u32",
    rowsPerItem: "u32",
    tPitch: "u32",
    ...dropout2 ? {
      p: "f32",
      scale: "f32",
      stream: "u32"
    } : {}
  },
  bindings: {
    x: "mirror read",
    gamma: "read",
    beta: "read",
    ...dropout2 ? {
      seed: "read array<u32>"
    } : {},
    t: "operand write",
    mean: "write",
    rstd: "write"
  },
  consts: {
    WG: wg,
    PAD: pad
  },
  code: (
    /* wgsl */
    `
${dropout2 ? RANDOM_WGSL : ""}
fn silu(v: vec4f) -> vec4f { return v / (1.0 + exp(-v)); }
${GROUP_FORWARD_HEAD}
  let b = bg / p.groups;
  ${dropout2 ? "let dropoutSeed = vec2u(seed[0], seed[1]);" : ""}
  let w4 = p.width / 4u;
  // Four channels at a time: their texels of four columns, transposed into four texels of four
  // channels, as conv2d's input pack does.
  for (var cq = 0u; cq < cpg / 4u; cq++) {
    let c = c0 + 4u * cq;
    let gm = vec4f(gamma[c], gamma[c + 1u], gamma[c + 2u], gamma[c + 3u]);
    let bt = vec4f(beta[c], beta[c + 1u], beta[c + 2u], beta[c + 3u]);
    let first = base + 4u * cq * s4;
    for (var k = 0u; k < s4; k++) {
      ${each(range(4), (j2) => {
      const at = `first + ${j2 === 0 ? "" : `${j2}u * s4 + `}k`;
      const v3 = `silu((load_x(${at}) - mu) * (r * gm.${XYZW[j2]}) + bt.${XYZW[j2]})`;
      return `let q${j2} = ${dropout2 ? dropoutMaskWgsl(v3, at) : v3};`;
    })}
      let iy = k / w4;
      let col = (4u * (k - iy * w4) + PAD) * p.C4 + c / 4u;
      let row = b * p.rowsPerItem + iy + PAD;
      store_t(vec2u(col, row), vec4f(q0.x, q1.x, q2.x, q3.x));
      store_t(vec2u(col + p.C4, row), vec4f(q0.y, q1.y, q2.y, q3.y));
      store_t(vec2u(col + 2u * p.C4, row), vec4f(q0.z, q1.z, q2.z, q3.z));
      store_t(vec2u(col + 3u * p.C4, row), vec4f(q0.w, q1.w, q2.w, q3.w));
    }
  }
}`
  )
});
async function groupNormSiluIntoConv(gpu, args) {
  const { groups: groups2 } = args;
  const { batch, inChannels: channels, height, width } = args.conv;
  const cpg = channels / groups2;
  if (gpu.profile.groupNorm.reducer !== "invocation") return null;
  if (!Number.isInteger(cpg) || cpg % 4 || width % 4) return null;
  const target = conv2dInputTarget(gpu, {
    x: args.y,
    shape: args.conv
  });
  if (!target) return null;
  const wg = gpu.profile.groupNorm.workgroupSize;
  const drop = args.dropout;
  const scale = drop ? dropoutScale(drop.p) : 0;
  const xm = mirror(gpu, args.x);
  const dispatches = [
    xm.refresh,
    await createDispatch(gpu, intoConvKernel(wg, (args.conv.kernel - 1) / 2, !!drop), {
      x: xm.view,
      gamma: args.gamma,
      beta: args.beta,
      ...drop ? {
        seed: drop.seed
      } : {},
      t: target.tx.staging,
      mean: args.mean,
      rstd: args.rstd
    }, grid1d(batch * groups2, wg), {
      batch,
      channels,
      spatial: height * width,
      groups: groups2,
      eps: args.eps,
      width,
      C4: target.layout.C4,
      rowsPerItem: target.layout.rowsPerItem,
      tPitch: target.tx.pitch,
      ...drop ? {
        p: drop.p,
        scale,
        stream: drop.stream
      } : {}
    }),
    target.tx.upload
  ];
  return {
    dispatches,
    written: target
  };
}

// gpu/model/resnet.ts
async function groupNorm(m3, prefix, x2, channels, spatial, norm, label, into) {
  const B3 = m3.batch;
  const y3 = m3.act([
    B3,
    channels,
    spatial
  ], label);
  const mean = m3.act([
    B3 * norm.groups
  ], `${label}.mean`);
  const rstd = m3.act([
    B3 * norm.groups
  ], `${label}.rstd`);
  const gamma = m3.param(`${prefix}.weight`);
  const beta = m3.param(`${prefix}.bias`);
  const shape = {
    batch: B3,
    channels,
    spatial,
    groups: norm.groups
  };
  const stats = {
    x: x2,
    gamma,
    beta,
    mean,
    rstd,
    eps: norm.eps
  };
  const fused = norm.silu && into && await normIntoConv(m3, {
    ...stats,
    groups: norm.groups,
    y: y3
  }, into);
  await m3.emit(fused ? Promise.resolve(fused) : groupNormForward(m3.gpu, {
    ...stats,
    y: y3,
    silu: norm.silu,
    ...shape
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(groupNormBackward(m3.gpu, {
      x: x2,
      gamma,
      beta,
      mean,
      rstd,
      dy: m3.grad(y3),
      dx: m3.grad(x2),
      dGamma: m3.paramGrad(`${prefix}.weight`),
      dBeta: m3.paramGrad(`${prefix}.bias`),
      silu: norm.silu,
      accumulateDx: m3.accumulate(x2),
      ...shape
    }));
  });
  return y3;
}
async function normIntoConv(m3, a4, into) {
  const fused = await groupNormSiluIntoConv(m3.gpu, {
    ...a4,
    conv: into.shape
  });
  if (fused) into.slot.written = fused.written;
  return fused?.dispatches ?? null;
}
async function conv(m3, prefix, x2, shape, label, inputSlot = {}) {
  const outH = Math.floor((shape.height + 2 * (shape.kernel === 3 ? 1 : 0) - shape.kernel) / shape.stride) + 1;
  const outW = Math.floor((shape.width + 2 * (shape.kernel === 3 ? 1 : 0) - shape.kernel) / shape.stride) + 1;
  const y3 = m3.act([
    shape.batch,
    shape.outChannels,
    outH,
    outW
  ], label);
  const weight = m3.param(`${prefix}.weight`);
  const bias = m3.param(`${prefix}.bias`);
  await m3.emit(conv2dForward(m3.gpu, {
    x: x2,
    weight,
    bias,
    y: y3,
    shape,
    inputSlot
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(conv2dBackward(m3.gpu, {
      x: x2,
      weight,
      inputSlot,
      dy: m3.grad(y3),
      dx: m3.grad(x2),
      dWeight: m3.paramGrad(`${prefix}.weight`),
      dBias: m3.paramGrad(`${prefix}.bias`),
      shape,
      accumulateDx: m3.accumulate(x2)
    }));
  });
  return y3;
}
async function resnetBlock(m3, r3, x2, height, width, time, norm, dropout2) {
  const B3 = m3.batch;
  const { prefix, inChannels: cin, outChannels: cout } = r3;
  const hw = height * width;
  const gpu = m3.gpu;
  const conv32 = (inChannels) => ({
    batch: B3,
    inChannels,
    outChannels: cout,
    height,
    width,
    kernel: 3,
    stride: 1
  });
  const [slot1, slot2, slotSc] = [
    {},
    {},
    {}
  ];
  const a1 = await groupNorm(m3, `${prefix}.norm1`, x2, cin, hw, {
    ...norm,
    silu: true
  }, `${prefix}.a1`, {
    shape: conv32(cin),
    slot: slot1
  });
  const tproj = m3.act([
    B3,
    cout
  ], `${prefix}.tproj`);
  const tw = m3.param(`${prefix}.time_emb_proj.weight`);
  const tshape = {
    rows: B3,
    inFeatures: time.dim,
    outFeatures: cout
  };
  await m3.emit(linearForward(gpu, {
    x: time.tembAct,
    weight: tw,
    bias: m3.param(`${prefix}.time_emb_proj.bias`),
    y: tproj,
    ...tshape
  }));
  const h1 = m3.act([
    B3,
    cout,
    height,
    width
  ], `${prefix}.h1`);
  const w1 = m3.param(`${prefix}.conv1.weight`);
  await m3.emit(conv2dForward(gpu, {
    x: a1,
    weight: w1,
    bias: m3.param(`${prefix}.conv1.bias`),
    itemBias: tproj,
    y: h1,
    shape: conv32(cin),
    inputSlot: slot1
  }));
  const a22 = m3.act([
    B3,
    cout,
    height,
    width
  ], `${prefix}.a2`);
  const mean2 = m3.act([
    B3 * norm.groups
  ], `${prefix}.norm2.mean`);
  const rstd2 = m3.act([
    B3 * norm.groups
  ], `${prefix}.norm2.rstd`);
  const g22 = m3.param(`${prefix}.norm2.weight`);
  const b2 = m3.param(`${prefix}.norm2.bias`);
  const n2shape = {
    batch: B3,
    channels: cout,
    spatial: hw,
    groups: norm.groups
  };
  const useDropout = m3.options.training && dropout2 > 0;
  const stats2 = {
    x: h1,
    gamma: g22,
    beta: b2,
    mean: mean2,
    rstd: rstd2,
    eps: norm.eps
  };
  const stream = useDropout ? m3.nextStream() : 0;
  const seed = m3.options.seed;
  if (useDropout && !seed) throw new Error(`${prefix}: dropout needs a seed tensor`);
  const drop = useDropout ? {
    p: dropout2,
    seed,
    stream
  } : void 0;
  const a2d = useDropout ? m3.act([
    B3,
    cout,
    height,
    width
  ], `${prefix}.a2d`) : a22;
  const fused2 = await normIntoConv(m3, {
    ...stats2,
    groups: norm.groups,
    y: a2d,
    dropout: drop
  }, {
    shape: conv32(cout),
    slot: slot2
  });
  if (fused2) {
    await m3.emit(Promise.resolve(fused2));
  } else {
    await m3.emit(groupNormForward(gpu, {
      ...stats2,
      y: a22,
      silu: true,
      ...n2shape
    }));
    if (drop) await m3.emit(dropoutForward(gpu, {
      x: a22,
      y: a2d,
      ...drop
    }));
  }
  const out = m3.act([
    B3,
    cout,
    height,
    width
  ], prefix);
  const w22 = m3.param(`${prefix}.conv2.weight`);
  const hasShortcut = cin !== cout;
  const scShape = {
    ...conv32(cin),
    kernel: 1
  };
  if (hasShortcut) {
    await m3.emit(conv2dForward(gpu, {
      x: x2,
      weight: m3.param(`${prefix}.conv_shortcut.weight`),
      bias: m3.param(`${prefix}.conv_shortcut.bias`),
      y: out,
      shape: scShape,
      inputSlot: slotSc
    }));
  } else {
    await m3.emit(Promise.resolve(copyTensor({
      x: x2,
      y: out
    })));
  }
  await m3.emit(conv2dForward(gpu, {
    x: a2d,
    weight: w22,
    bias: m3.param(`${prefix}.conv2.bias`),
    y: out,
    shape: conv32(cout),
    accumulate: true,
    inputSlot: slot2
  }));
  m3.onBackward(async () => {
    const dOut = m3.grad(out);
    const dA2d = m3.scratch("resnet.dA2d", [
      B3,
      cout,
      height,
      width
    ]);
    await m3.emitBackward(conv2dBackward(gpu, {
      x: a2d,
      weight: w22,
      dy: dOut,
      dx: dA2d,
      dWeight: m3.paramGrad(`${prefix}.conv2.weight`),
      dBias: m3.paramGrad(`${prefix}.conv2.bias`),
      shape: conv32(cout),
      inputSlot: slot2
    }));
    if (hasShortcut) {
      await m3.emitBackward(conv2dBackward(gpu, {
        x: x2,
        weight: m3.param(`${prefix}.conv_shortcut.weight`),
        dy: dOut,
        dx: m3.grad(x2),
        dWeight: m3.paramGrad(`${prefix}.conv_shortcut.weight`),
        dBias: m3.paramGrad(`${prefix}.conv_shortcut.bias`),
        shape: scShape,
        accumulateDx: m3.accumulate(x2),
        inputSlot: slotSc
      }));
    } else {
      await m3.emitBackward(addInto(gpu, {
        x: dOut,
        y: m3.grad(x2),
        accumulate: m3.accumulate(x2)
      }));
    }
    let dA2 = dA2d;
    if (useDropout) {
      dA2 = m3.scratch("resnet.dA2", [
        B3,
        cout,
        height,
        width
      ]);
      await m3.emitBackward(dropoutBackward(gpu, {
        dy: dA2d,
        dx: dA2,
        p: dropout2,
        seed,
        stream
      }));
    }
    const dH1 = m3.scratch("resnet.dH1", [
      B3,
      cout,
      height,
      width
    ]);
    await m3.emitBackward(groupNormBackward(gpu, {
      x: h1,
      gamma: g22,
      beta: b2,
      mean: mean2,
      rstd: rstd2,
      dy: dA2,
      dx: dH1,
      dGamma: m3.paramGrad(`${prefix}.norm2.weight`),
      dBeta: m3.paramGrad(`${prefix}.norm2.bias`),
      silu: true,
      ...n2shape
    }));
    const dTproj = m3.scratch("resnet.dTproj", [
      B3,
      cout
    ]);
    await m3.emitBackward(sumSpatial(gpu, {
      x: dH1,
      y: dTproj,
      batch: B3,
      channels: cout,
      spatial: hw
    }));
    await m3.emitBackward(linearBackward(gpu, {
      x: time.tembAct,
      weight: tw,
      dy: dTproj,
      dx: m3.grad(time.tembAct),
      dWeight: m3.paramGrad(`${prefix}.time_emb_proj.weight`),
      dBias: m3.paramGrad(`${prefix}.time_emb_proj.bias`),
      accumulateDx: m3.accumulate(time.tembAct),
      ...tshape
    }));
    await m3.emitBackward(conv2dBackward(gpu, {
      x: a1,
      weight: w1,
      dy: dH1,
      dx: m3.grad(a1),
      dWeight: m3.paramGrad(`${prefix}.conv1.weight`),
      dBias: m3.paramGrad(`${prefix}.conv1.bias`),
      shape: conv32(cin),
      accumulateDx: m3.accumulate(a1),
      inputSlot: slot1
    }));
  });
  return out;
}
function downsample(m3, prefix, x2, channels, height, width) {
  return conv(m3, `${prefix}.conv`, x2, {
    batch: m3.batch,
    inChannels: channels,
    outChannels: channels,
    height,
    width,
    kernel: 3,
    stride: 2
  }, prefix);
}
async function upsample(m3, prefix, x2, channels, height, width) {
  const B3 = m3.batch;
  const u4 = m3.act([
    B3,
    channels,
    2 * height,
    2 * width
  ], `${prefix}.nearest`);
  const planes = B3 * channels;
  const shape = {
    batch: B3,
    inChannels: channels,
    outChannels: channels,
    height: 2 * height,
    width: 2 * width,
    kernel: 3,
    stride: 1
  };
  const slot = {};
  const fused = await conv2dUpsampledInput(m3.gpu, {
    x: x2,
    y: u4,
    shape
  });
  if (fused) slot.written = fused.written;
  await m3.emit(fused ? Promise.resolve(fused.dispatches) : upsampleNearest2xForward(m3.gpu, {
    x: x2,
    y: u4,
    planes,
    height,
    width
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(upsampleNearest2xBackward(m3.gpu, {
      dy: m3.grad(u4),
      dx: m3.grad(x2),
      planes,
      height,
      width,
      accumulate: m3.accumulate(x2)
    }));
  });
  return conv(m3, `${prefix}.conv`, u4, shape, prefix, slot);
}

// gpu/ops/attention.ts
var rowsPerGroup = (gpu) => gpu.profile.attention.laneWidth;
var params2 = {
  heads: "u32",
  queries: "u32",
  keys: "u32",
  rows: "u32",
  scale: "f32"
};
function paramValues(s3, rows) {
  return {
    heads: s3.heads,
    queries: s3.queries,
    keys: s3.keys,
    rows,
    scale: s3.scale
  };
}
var indexing = (
  /* wgsl */
  `
const WIDTH = HEADS_TIMES_D;
// Element c of head h of token t of batch item b, in a [B, N, heads*d] tensor with N tokens.
fn at(b: u32, t: u32, n: u32, h: u32, c: u32) -> u32 {
  return (b * n + t) * WIDTH + h * D + c;
}`
);
function attentionForwardKernel(wg, s3) {
  return {
    name: "attentionForward",
    params: params2,
    bindings: {
      q: "read",
      k: "read",
      v: "read",
      out: "write",
      probs: "write"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim
    },
    code: indexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;

  var qi: array<f32, D>;
  for (var c = 0u; c < D; c++) { qi[c] = q[at(b, i, p.queries, h, c)] * p.scale; }

  // Scores go into probs first; the row max keeps exp() in range (the largest term is exactly 1).
  var m = -3.4e38;
  for (var j = 0u; j < p.keys; j++) {
    var s = 0.0;
    for (var c = 0u; c < D; c++) { s += qi[c] * k[at(b, j, p.keys, h, c)]; }
    probs[prow + j] = s;
    m = max(m, s);
  }
  var total = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let e = exp(probs[prow + j] - m);
    probs[prow + j] = e;
    total += e;
  }
  let inv = 1.0 / total;

  var acc: array<f32, D>;
  for (var j = 0u; j < p.keys; j++) {
    let pj = probs[prow + j] * inv;
    probs[prow + j] = pj;
    for (var c = 0u; c < D; c++) { acc[c] += pj * v[at(b, j, p.keys, h, c)]; }
  }
  for (var c = 0u; c < D; c++) { out[at(b, i, p.queries, h, c)] = acc[c]; }
}`
  };
}
function mirrorsFor(gpu, s3, t3) {
  if (s3.mirrors === false || !gpu.profile.attention.mirrors || s3.headDim % 4 !== 0) return null;
  const refresh = [];
  const views = {};
  for (const [name, tensor] of Object.entries(t3)) {
    const m3 = mirror(gpu, tensor);
    refresh.push(m3.refresh);
    views[name] = m3.view;
  }
  return {
    refresh,
    views
  };
}
async function attentionForward(gpu, args) {
  const { q: q2, k: k2, v: v3, out, probs } = args;
  checkShapes("attentionForward", args, {
    q: q2,
    k: k2,
    v: v3,
    out,
    probs
  });
  const rows = args.batch * args.heads * args.queries;
  const wg = rowsPerGroup(gpu);
  const m3 = mirrorsFor(gpu, args, {
    q: q2,
    k: k2,
    v: v3
  });
  if (m3) {
    return [
      ...m3.refresh,
      await createDispatch(gpu, attentionForwardMirrorKernel(wg, args), {
        ...m3.views,
        out,
        probs
      }, grid1d(rows, wg), paramValues(args, rows))
    ];
  }
  return [
    await createDispatch(gpu, attentionForwardKernel(wg, args), {
      q: q2,
      k: k2,
      v: v3,
      out,
      probs
    }, grid1d(rows, wg), paramValues(args, rows))
  ];
}
function attentionBackwardQueryKernel(wg, s3, accumulate) {
  return {
    name: "attentionBackwardQuery",
    params: params2,
    bindings: {
      k: "read",
      v: "read",
      probs: "read",
      dOut: "read",
      dq: "write",
      dScores: "write"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim,
      ACCUMULATE: accumulate
    },
    code: indexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;

  var doi: array<f32, D>;
  for (var c = 0u; c < D; c++) { doi[c] = dOut[at(b, i, p.queries, h, c)]; }
  var rowdot = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    var dp = 0.0;
    for (var c = 0u; c < D; c++) { dp += doi[c] * v[at(b, j, p.keys, h, c)]; }
    dScores[prow + j] = dp;
    rowdot += dp * probs[prow + j];
  }
  // With one key P = 1 and rowdot == dP bit for bit, so dS (and dK) come out exactly 0.
  var acc: array<f32, D>;
  for (var j = 0u; j < p.keys; j++) {
    let ds = probs[prow + j] * (dScores[prow + j] - rowdot);
    dScores[prow + j] = ds;
    for (var c = 0u; c < D; c++) { acc[c] += ds * k[at(b, j, p.keys, h, c)]; }
  }
  for (var c = 0u; c < D; c++) {
    let o = at(b, i, p.queries, h, c);
    let g = acc[c] * p.scale;
    if (ACCUMULATE) { dq[o] = dq[o] + g; } else { dq[o] = g; }
  }
}`
  };
}
function attentionBackwardKeyKernel(wg, s3, accumulate) {
  return {
    name: "attentionBackwardKey",
    params: params2,
    bindings: {
      q: "read",
      probs: "read",
      dOut: "read",
      dScores: "read",
      dk: "write",
      dv: "write"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim,
      ACCUMULATE: accumulate
    },
    code: indexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nk + j)
  if (row >= p.rows) { return; }
  let j = row % p.keys;
  let h = (row / p.keys) % p.heads;
  let b = row / (p.keys * p.heads);
  let head = (b * p.heads + h) * p.queries;

  var accK: array<f32, D>;
  var accV: array<f32, D>;
  for (var i = 0u; i < p.queries; i++) {
    let s = (head + i) * p.keys + j;
    let pij = probs[s];
    let ds = dScores[s];
    for (var c = 0u; c < D; c++) {
      let o = at(b, i, p.queries, h, c);
      accV[c] += pij * dOut[o];
      accK[c] += ds * q[o];
    }
  }
  for (var c = 0u; c < D; c++) {
    let o = at(b, j, p.keys, h, c);
    let gk = accK[c] * p.scale;
    if (ACCUMULATE) {
      dk[o] = dk[o] + gk;
      dv[o] = dv[o] + accV[c];
    } else {
      dk[o] = gk;
      dv[o] = accV[c];
    }
  }
}`
  };
}
async function attentionBackward(gpu, args) {
  const { q: q2, k: k2, v: v3, probs, dOut, dq, dk, dv, accumulate = false } = args;
  checkShapes("attentionBackward", args, {
    q: q2,
    k: k2,
    v: v3,
    out: dOut,
    probs,
    dq,
    dk,
    dv
  });
  const scoreCount = args.batch * args.heads * args.queries * args.keys;
  const dScores = args.dScores ?? createTensor(gpu, [
    scoreCount
  ], "f32", "attention.dScores");
  if (dScores.size < scoreCount) {
    throw new Error(`attentionBackward: dScores has ${dScores.size} elements, needs ${scoreCount}`);
  }
  const wg = rowsPerGroup(gpu);
  const queryRows = args.batch * args.heads * args.queries;
  const keyRows = args.batch * args.heads * args.keys;
  const m3 = mirrorsFor(gpu, args, {
    q: q2,
    k: k2,
    v: v3,
    dOut
  });
  if (m3) {
    const { q: qm, k: km, v: vm, dOut: dOutM } = m3.views;
    return [
      ...m3.refresh,
      await createDispatch(gpu, attentionBackwardQueryMirrorKernel(wg, args, accumulate), {
        k: km,
        v: vm,
        probs,
        dOut: dOutM,
        dq,
        dScores
      }, grid1d(queryRows, wg), paramValues(args, queryRows)),
      await createDispatch(gpu, attentionBackwardKeyMirrorKernel(wg, args, accumulate), {
        q: qm,
        probs,
        dOut: dOutM,
        dScores,
        dk,
        dv
      }, grid1d(keyRows, wg), paramValues(args, keyRows))
    ];
  }
  return [
    await createDispatch(gpu, attentionBackwardQueryKernel(wg, args, accumulate), {
      k: k2,
      v: v3,
      probs,
      dOut,
      dq,
      dScores
    }, grid1d(queryRows, wg), paramValues(args, queryRows)),
    await createDispatch(gpu, attentionBackwardKeyKernel(wg, args, accumulate), {
      q: q2,
      probs,
      dOut,
      dScores,
      dk,
      dv
    }, grid1d(keyRows, wg), paramValues(args, keyRows))
  ];
}
function checkShapes(op, s3, t3) {
  const width = s3.heads * s3.headDim;
  const need = {
    q: s3.batch * s3.queries * width,
    out: s3.batch * s3.queries * width,
    dq: s3.batch * s3.queries * width,
    k: s3.batch * s3.keys * width,
    v: s3.batch * s3.keys * width,
    dk: s3.batch * s3.keys * width,
    dv: s3.batch * s3.keys * width,
    probs: s3.batch * s3.heads * s3.queries * s3.keys
  };
  if (!(s3.headDim >= 1 && Number.isInteger(s3.headDim))) {
    throw new Error(`${op}: bad headDim ${s3.headDim}`);
  }
  for (const [name, tensor] of Object.entries(t3)) {
    if (tensor.size < need[name]) {
      throw new Error(`${op}: ${name} has ${tensor.size} elements, needs ${need[name]}`);
    }
  }
}
var mirrorIndexing = (
  /* wgsl */
  `
const WIDTH4 = HEADS_TIMES_D / 4u;
const D4 = D / 4u;
fn at4(b: u32, t: u32, n: u32, h: u32) -> u32 { return (b * n + t) * WIDTH4 + h * D4; }`
);
var unroll = (d4, f4) => Array.from({
  length: d4
}, (_3, c3) => f4(c3)).join("\n  ");
function attentionForwardMirrorKernel(wg, s3) {
  const d4 = s3.headDim / 4;
  return {
    name: "attentionForward",
    params: params2,
    bindings: {
      q: "mirror read",
      k: "mirror read",
      v: "mirror read",
      out: "write array<vec4<f32>>",
      probs: "write"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim
    },
    code: mirrorIndexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;
  let qt = at4(b, i, p.queries, h);
  ${unroll(d4, (c3) => `let q${c3} = load_q(qt + ${c3}u) * p.scale;`)}
  // Scores go into probs first; the row max keeps exp() in range (the largest term is exactly 1).
  var m = -3.4e38;
  for (var j = 0u; j < p.keys; j++) {
    let kt = at4(b, j, p.keys, h);
    let s = ${unroll(d4, (c3) => `dot(q${c3}, load_k(kt + ${c3}u))`).split("\n  ").join(" + ")};
    probs[prow + j] = s;
    m = max(m, s);
  }
  var total = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let e = exp(probs[prow + j] - m);
    probs[prow + j] = e;
    total += e;
  }
  let inv = 1.0 / total;
  ${unroll(d4, (c3) => `var acc${c3} = vec4f(0.0);`)}
  for (var j = 0u; j < p.keys; j++) {
    let pj = probs[prow + j] * inv;
    probs[prow + j] = pj;
    let vt = at4(b, j, p.keys, h);
    ${unroll(d4, (c3) => `acc${c3} += pj * load_v(vt + ${c3}u);`)}
  }
  ${unroll(d4, (c3) => `out[qt + ${c3}u] = acc${c3};`)}
}`
  };
}
function attentionBackwardQueryMirrorKernel(wg, s3, accumulate) {
  const d4 = s3.headDim / 4;
  return {
    name: "attentionBackwardQuery",
    params: params2,
    bindings: {
      k: "mirror read",
      v: "mirror read",
      probs: "read",
      dOut: "mirror read",
      dq: "write array<vec4<f32>>",
      dScores: "write"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim,
      ACCUMULATE: accumulate
    },
    code: mirrorIndexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nq + i)
  if (row >= p.rows) { return; }
  let i = row % p.queries;
  let h = (row / p.queries) % p.heads;
  let b = row / (p.queries * p.heads);
  let prow = row * p.keys;
  let qt = at4(b, i, p.queries, h);
  ${unroll(d4, (c3) => `let do${c3} = load_dOut(qt + ${c3}u);`)}
  var rowdot = 0.0;
  for (var j = 0u; j < p.keys; j++) {
    let vt = at4(b, j, p.keys, h);
    let dp = ${unroll(d4, (c3) => `dot(do${c3}, load_v(vt + ${c3}u))`).split("\n  ").join(" + ")};
    dScores[prow + j] = dp;
    rowdot += dp * probs[prow + j];
  }
  // With one key P = 1 and rowdot == dP bit for bit, so dS (and dK) come out exactly 0.
  ${unroll(d4, (c3) => `var acc${c3} = vec4f(0.0);`)}
  for (var j = 0u; j < p.keys; j++) {
    let ds = probs[prow + j] * (dScores[prow + j] - rowdot);
    dScores[prow + j] = ds;
    let kt = at4(b, j, p.keys, h);
    ${unroll(d4, (c3) => `acc${c3} += ds * load_k(kt + ${c3}u);`)}
  }
  ${unroll(d4, (c3) => `{ var g = acc${c3} * p.scale; if (ACCUMULATE) { g += dq[qt + ${c3}u]; } dq[qt + ${c3}u] = g; }`)}
}`
  };
}
function attentionBackwardKeyMirrorKernel(wg, s3, accumulate) {
  const d4 = s3.headDim / 4;
  return {
    name: "attentionBackwardKey",
    params: params2,
    bindings: {
      q: "mirror read",
      probs: "read",
      dOut: "mirror read",
      dScores: "read",
      dk: "write array<vec4<f32>>",
      dv: "write array<vec4<f32>>"
    },
    consts: {
      WG: wg,
      D: s3.headDim,
      HEADS_TIMES_D: s3.heads * s3.headDim,
      ACCUMULATE: accumulate
    },
    code: mirrorIndexing + /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let row = flat_id(gid, nwg, WG); // ((b * heads + h) * Nk + j)
  if (row >= p.rows) { return; }
  let j = row % p.keys;
  let h = (row / p.keys) % p.heads;
  let b = row / (p.keys * p.heads);
  let head = (b * p.heads + h) * p.queries;
  ${unroll(d4, (c3) => `var accK${c3} = vec4f(0.0); var accV${c3} = vec4f(0.0);`)}
  for (var i = 0u; i < p.queries; i++) {
    let s = (head + i) * p.keys + j;
    let pij = probs[s];
    let ds = dScores[s];
    let qt = at4(b, i, p.queries, h);
    ${unroll(d4, (c3) => `accV${c3} += pij * load_dOut(qt + ${c3}u); accK${c3} += ds * load_q(qt + ${c3}u);`)}
  }
  let kt = at4(b, j, p.keys, h);
  ${unroll(d4, (c3) => `{ var gk = accK${c3} * p.scale; var gv = accV${c3};
    if (ACCUMULATE) { gk += dk[kt + ${c3}u]; gv += dv[kt + ${c3}u]; }
    dk[kt + ${c3}u] = gk; dv[kt + ${c3}u] = gv; }`)}
}`
  };
}

// gpu/ops/layer_norm.ts
function layerNormForward(gpu, args) {
  const { rows, features, ...tensors } = args;
  return groupNormForward(gpu, {
    ...tensors,
    batch: rows,
    channels: features,
    spatial: 1,
    groups: 1
  });
}
function layerNormBackward(gpu, args) {
  const { rows, features, ...tensors } = args;
  return groupNormBackward(gpu, {
    ...tensors,
    beta: args.gamma,
    batch: rows,
    channels: features,
    spatial: 1,
    groups: 1
  });
}

// gpu/model/transformer.ts
var TRANSFORMER_GROUP_NORM_EPS = 1e-6;
var LAYER_NORM_EPS = 1e-5;
async function transformer2d(m3, t3, x2, height, width, context, groups2) {
  const B3 = m3.batch;
  const C3 = t3.channels;
  const N2 = height * width;
  const gpu = m3.gpu;
  const p3 = t3.prefix;
  const n2 = await groupNorm(m3, `${p3}.norm`, x2, C3, N2, {
    groups: groups2,
    eps: TRANSFORMER_GROUP_NORM_EPS,
    silu: false
  }, `${p3}.norm`);
  const nT = m3.act([
    B3,
    N2,
    C3
  ], `${p3}.norm.tokens`);
  await m3.emit(transpose(gpu, {
    x: n2,
    y: nT,
    batch: B3,
    rows: C3,
    cols: N2
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(transpose(gpu, {
      x: m3.grad(nT),
      y: m3.grad(n2),
      batch: B3,
      rows: N2,
      cols: C3,
      accumulate: m3.accumulate(n2)
    }));
  });
  let tokens = await linear(m3, `${p3}.proj_in`, nT, B3 * N2, C3, C3, `${p3}.proj_in`, true);
  for (let l3 = 0; l3 < t3.layers; l3++) {
    tokens = await basicTransformerBlock(m3, `${p3}.transformer_blocks.${l3}`, tokens, t3, N2, context);
  }
  const pOut = await linear(m3, `${p3}.proj_out`, tokens, B3 * N2, C3, C3, `${p3}.proj_out.tokens`, true);
  const out = m3.act([
    B3,
    C3,
    height,
    width
  ], p3);
  await m3.emit(transpose(gpu, {
    x: pOut,
    y: out,
    batch: B3,
    rows: N2,
    cols: C3
  }));
  await m3.emit(addInto(gpu, {
    x: x2,
    y: out,
    accumulate: true
  }));
  m3.onBackward(async () => {
    const dOut = m3.grad(out);
    await m3.emitBackward(addInto(gpu, {
      x: dOut,
      y: m3.grad(x2),
      accumulate: m3.accumulate(x2)
    }));
    await m3.emitBackward(transpose(gpu, {
      x: dOut,
      y: m3.grad(pOut),
      batch: B3,
      rows: C3,
      cols: N2,
      accumulate: m3.accumulate(pOut)
    }));
  });
  return out;
}
async function linear(m3, prefix, x2, rows, inFeatures, outFeatures, label, hasBias) {
  const y3 = m3.act([
    rows,
    outFeatures
  ], label);
  const weight = m3.paramAs(`${prefix}.weight`, [
    outFeatures,
    inFeatures
  ]);
  const bias = hasBias ? m3.param(`${prefix}.bias`) : void 0;
  const shape = {
    rows,
    inFeatures,
    outFeatures
  };
  await m3.emit(linearForward(m3.gpu, {
    x: x2,
    weight,
    bias,
    y: y3,
    ...shape
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(linearBackward(m3.gpu, {
      x: x2,
      weight,
      dy: m3.grad(y3),
      dx: m3.grad(x2),
      dWeight: m3.paramGradAs(`${prefix}.weight`, [
        outFeatures,
        inFeatures
      ]),
      dBias: hasBias ? m3.paramGrad(`${prefix}.bias`) : void 0,
      accumulateDx: m3.accumulate(x2),
      ...shape
    }));
  });
  return y3;
}
async function layerNorm(m3, prefix, x2, rows, features) {
  const y3 = m3.act([
    rows,
    features
  ], prefix);
  const mean = m3.act([
    rows
  ], `${prefix}.mean`);
  const rstd = m3.act([
    rows
  ], `${prefix}.rstd`);
  const gamma = m3.param(`${prefix}.weight`);
  const beta = m3.param(`${prefix}.bias`);
  await m3.emit(layerNormForward(m3.gpu, {
    x: x2,
    gamma,
    beta,
    y: y3,
    mean,
    rstd,
    rows,
    features,
    eps: LAYER_NORM_EPS
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(layerNormBackward(m3.gpu, {
      x: x2,
      gamma,
      mean,
      rstd,
      dy: m3.grad(y3),
      dx: m3.grad(x2),
      dGamma: m3.paramGrad(`${prefix}.weight`),
      dBeta: m3.paramGrad(`${prefix}.bias`),
      rows,
      features,
      accumulateDx: m3.accumulate(x2)
    }));
  });
  return y3;
}
async function attention(m3, prefix, hidden, queries, kv, keys, kvDim, t3) {
  const B3 = m3.batch;
  const C3 = t3.channels;
  const headDim = C3 / t3.heads;
  const q2 = await linear(m3, `${prefix}.to_q`, hidden, B3 * queries, C3, C3, `${prefix}.q`, false);
  const k2 = await linear(m3, `${prefix}.to_k`, kv, B3 * keys, kvDim, C3, `${prefix}.k`, false);
  const v3 = await linear(m3, `${prefix}.to_v`, kv, B3 * keys, kvDim, C3, `${prefix}.v`, false);
  const o4 = m3.act([
    B3,
    queries,
    C3
  ], `${prefix}.heads`);
  const probs = m3.act([
    B3,
    t3.heads,
    queries,
    keys
  ], `${prefix}.probs`);
  const shape = {
    batch: B3,
    heads: t3.heads,
    queries,
    keys,
    headDim,
    scale: 1 / Math.sqrt(headDim)
  };
  await m3.emit(attentionForward(m3.gpu, {
    q: q2,
    k: k2,
    v: v3,
    out: o4,
    probs,
    ...shape
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(attentionBackward(m3.gpu, {
      q: q2,
      k: k2,
      v: v3,
      probs,
      dOut: m3.grad(o4),
      dq: m3.grad(q2),
      dk: m3.grad(k2),
      dv: m3.grad(v3),
      dScores: m3.scratch("attention.dScores", [
        B3 * t3.heads * queries * keys
      ]),
      ...shape
    }));
    m3.accumulate(q2);
    m3.accumulate(k2);
    m3.accumulate(v3);
  });
  return linear(m3, `${prefix}.to_out.0`, o4, B3 * queries, C3, C3, prefix, true);
}
async function residual(m3, a4, b, label) {
  const out = m3.act(a4.shape, label);
  await m3.emit(add(m3.gpu, {
    a: a4,
    b,
    out
  }));
  m3.onBackward(() => {
    const dOut = m3.grad(out);
    for (const t3 of [
      a4,
      b
    ]) {
      if (m3.hasGrad(t3)) throw new Error(`${label}: residual input already has a gradient`);
      m3.setGrad(t3, dOut);
      m3.accumulate(t3);
    }
    return Promise.resolve();
  });
  return out;
}
async function basicTransformerBlock(m3, prefix, t0, t3, N2, context) {
  const B3 = m3.batch;
  const C3 = t3.channels;
  const rows = B3 * N2;
  const ln1 = await layerNorm(m3, `${prefix}.norm1`, t0, rows, C3);
  const a1 = await attention(m3, `${prefix}.attn1`, ln1, N2, ln1, N2, C3, t3);
  const t1 = await residual(m3, t0, a1, `${prefix}.t1`);
  const ln2 = await layerNorm(m3, `${prefix}.norm2`, t1, rows, C3);
  const a22 = await attention(m3, `${prefix}.attn2`, ln2, N2, context.tokens, context.length, context.dim, t3);
  const t22 = await residual(m3, t1, a22, `${prefix}.t2`);
  const ln3 = await layerNorm(m3, `${prefix}.norm3`, t22, rows, C3);
  const f4 = await linear(m3, `${prefix}.ff.net.0.proj`, ln3, rows, C3, 8 * C3, `${prefix}.ff.proj`, true);
  const g3 = m3.act([
    rows,
    4 * C3
  ], `${prefix}.ff.geglu`);
  await m3.emit(gegluForward(m3.gpu, {
    x: f4,
    y: g3,
    rows,
    features: 4 * C3
  }));
  m3.onBackward(async () => {
    await m3.emitBackward(gegluBackward(m3.gpu, {
      x: f4,
      dy: m3.grad(g3),
      dx: m3.grad(f4),
      rows,
      features: 4 * C3
    }));
    m3.accumulate(f4);
  });
  const a32 = await linear(m3, `${prefix}.ff.net.2`, g3, rows, 4 * C3, C3, `${prefix}.ff`, true);
  const t32 = await residual(m3, t22, a32, prefix);
  m3.activations.set(`${prefix}.attn1`, a1);
  m3.activations.set(`${prefix}.attn2`, a22);
  m3.activations.set(`${prefix}.ff`, a32);
  m3.activations.set(prefix, t32);
  return t32;
}

// gpu/model/unet.ts
var UNET_DROPOUT_STREAM_BASE = 65536;
async function buildUNet(gpu, config, options) {
  const plan = unetPlan(config);
  const B3 = options.batch;
  const H3 = options.height ?? config.sample_size;
  const W2 = options.width ?? config.sample_size;
  if (!H3 || !W2) throw new Error("buildUNet: no image size (config.sample_size is null)");
  const levels = config.block_out_channels.length - 1;
  if (H3 % 2 ** levels || W2 % 2 ** levels) {
    throw new Error(`buildUNet: ${H3}x${W2} is not divisible by 2^${levels}`);
  }
  const S2 = options.contextLength ?? 1;
  const withBackward = options.withBackward ?? true;
  const params3 = options.params ?? createParamStore(gpu, unetParamSpecs(config));
  const m3 = new ModelBuilder(gpu, params3, {
    batch: B3,
    training: options.training,
    seed: options.seed,
    withBackward,
    label: "unet",
    streamBase: options.dropoutStreamBase ?? UNET_DROPOUT_STREAM_BASE
  });
  const shared = options.sharedPrefix ?? false;
  if (shared && (options.training || withBackward || B3 % 2)) {
    throw new Error("buildUNet: a shared prefix is for sampling (even batch, no training)");
  }
  const prefix = shared ? new ModelBuilder(gpu, params3, {
    ...m3.options,
    batch: B3 / 2,
    label: "unet.prefix"
  }) : m3;
  const sample = createTensor(gpu, [
    prefix.batch,
    config.in_channels,
    H3,
    W2
  ], "f32", "unet.sample");
  const timesteps = createTensor(gpu, [
    B3
  ], "f32", "unet.timesteps");
  const encoderHiddenStates = createTensor(gpu, [
    B3,
    S2,
    plan.encoderInputDim
  ], "f32", "unet.encoder_hidden_states");
  const dOutput = createTensor(gpu, [
    B3,
    config.out_channels,
    H3,
    W2
  ], "f32", "unet.dOutput");
  const time = await timeEmbedding(m3, plan, timesteps);
  const context = await encoderProjection(m3, plan, encoderHiddenStates, S2);
  const prefixAt = m3.forward.length;
  const norm = {
    groups: config.norm_num_groups,
    eps: config.norm_eps
  };
  const dropout2 = config.dropout;
  const c0 = config.block_out_channels[0];
  let b = prefix;
  const halfTime = shared ? {
    ...time,
    tembAct: tensorView(time.tembAct, 0, [
      B3 / 2,
      time.dim
    ])
  } : time;
  let h3 = await conv(b, "conv_in", sample, conv3(b.batch, config.in_channels, c0, H3, W2), "conv_in");
  b.activations.set("conv_in", h3);
  let height = H3;
  let width = W2;
  const skips = [
    {
      t: h3,
      channels: c0
    }
  ];
  let channels = c0;
  const joinHalves = async () => {
    if (b === m3) return;
    const whole = /* @__PURE__ */ new Map();
    for (const s3 of skips) whole.set(s3.t, await bothHalves(m3, s3.t));
    if (!whole.has(h3)) whole.set(h3, await bothHalves(m3, h3));
    for (const s3 of skips) s3.t = whole.get(s3.t);
    h3 = whole.get(h3);
    for (const [name, t3] of prefix.activations) m3.activations.set(name, t3);
    b = m3;
  };
  for (const block of plan.down) {
    if (block.attentions.some(Boolean)) await joinHalves();
    for (let j2 = 0; j2 < block.resnets.length; j2++) {
      const r3 = block.resnets[j2];
      h3 = await resnetBlock(b, r3, h3, height, width, b === m3 ? time : halfTime, norm, dropout2);
      b.activations.set(r3.prefix, h3);
      channels = r3.outChannels;
      const a4 = block.attentions[j2];
      if (a4) {
        h3 = await transformer2d(m3, a4, h3, height, width, context, norm.groups);
        m3.activations.set(a4.prefix, h3);
      }
      skips.push({
        t: h3,
        channels
      });
    }
    if (block.downsample) {
      h3 = await downsample(b, block.downsample.prefix, h3, channels, height, width);
      b.activations.set(block.downsample.prefix, h3);
      height /= 2;
      width /= 2;
      skips.push({
        t: h3,
        channels
      });
    }
  }
  await joinHalves();
  const mid = plan.mid;
  h3 = await resnetBlock(m3, mid.resnets[0], h3, height, width, time, norm, dropout2);
  m3.activations.set(mid.resnets[0].prefix, h3);
  for (let j2 = 0; j2 < mid.attentions.length; j2++) {
    h3 = await transformer2d(m3, mid.attentions[j2], h3, height, width, context, norm.groups);
    m3.activations.set(mid.attentions[j2].prefix, h3);
    h3 = await resnetBlock(m3, mid.resnets[j2 + 1], h3, height, width, time, norm, dropout2);
    m3.activations.set(mid.resnets[j2 + 1].prefix, h3);
  }
  for (const block of plan.up) {
    for (let j2 = 0; j2 < block.resnets.length; j2++) {
      const r3 = block.resnets[j2];
      const skip = skips.pop();
      if (skip.channels !== r3.skipChannels) {
        throw new Error(`${r3.prefix}: skip has ${skip.channels} channels, plan ${r3.skipChannels}`);
      }
      const cat = await concat(m3, h3, channels, skip.t, skip.channels, height * width, r3.prefix);
      h3 = await resnetBlock(m3, r3, cat, height, width, time, norm, dropout2);
      m3.activations.set(r3.prefix, h3);
      channels = r3.outChannels;
      const a4 = block.attentions[j2];
      if (a4) {
        h3 = await transformer2d(m3, a4, h3, height, width, context, norm.groups);
        m3.activations.set(a4.prefix, h3);
      }
    }
    if (block.upsample) {
      h3 = await upsample(m3, block.upsample.prefix, h3, channels, height, width);
      m3.activations.set(block.upsample.prefix, h3);
      height *= 2;
      width *= 2;
    }
  }
  const normed = await groupNorm(m3, "conv_norm_out", h3, c0, H3 * W2, {
    ...norm,
    silu: true
  }, "conv_norm_out");
  m3.activations.set("conv_norm_out.silu", normed);
  const output = await conv(m3, "conv_out", normed, conv3(B3, c0, config.out_channels, H3, W2), "conv_out");
  m3.activations.set("conv_out", output);
  m3.setGrad(output, dOutput);
  m3.accumulate(output);
  const dSample = m3.grad(sample);
  const dEncoderHiddenStates = m3.grad(encoderHiddenStates);
  await m3.buildBackward();
  const prepare = shared ? [
    ...prefix.prepare,
    ...m3.prepare
  ] : m3.prepare;
  const forwardPrepared = shared ? [
    ...m3.forward.slice(0, prefixAt),
    ...prefix.forward,
    ...m3.forward.slice(prefixAt)
  ] : m3.forward;
  return {
    config,
    plan,
    batch: B3,
    params: params3,
    sample,
    timesteps,
    encoderHiddenStates,
    output,
    dOutput,
    dSample,
    dEncoderHiddenStates,
    forward: [
      ...prepare,
      ...forwardPrepared
    ],
    prepare,
    forwardPrepared,
    backward: m3.backward,
    activations: m3.activations,
    memoryBytes: {
      activations: m3.bytes.activations + (shared ? prefix.bytes.activations : 0),
      gradients: m3.bytes.gradients
    }
  };
}
async function bothHalves(m3, half) {
  const whole = m3.act([
    m3.batch,
    ...half.shape.slice(1)
  ], `${half.label}.both`);
  const bytes = 4 * half.size;
  for (const at of [
    0,
    bytes
  ]) {
    const target = {
      ...whole,
      shape: half.shape,
      size: half.size,
      offset: whole.offset + at
    };
    await m3.emit(Promise.resolve(copyTensor({
      x: half,
      y: target
    })));
  }
  return whole;
}
function conv3(batch, inChannels, outChannels, height, width) {
  return {
    batch,
    inChannels,
    outChannels,
    height,
    width,
    kernel: 3,
    stride: 1
  };
}
async function timeEmbedding(m3, plan, timesteps) {
  const B3 = m3.batch;
  const gpu = m3.gpu;
  const c3 = plan.config;
  const T3 = plan.timeEmbedDim;
  const proj = m3.act([
    B3,
    plan.timeProjDim
  ], "time_proj");
  await m3.emit(timestepEmbedding(gpu, {
    timesteps,
    out: proj,
    batch: B3,
    dim: plan.timeProjDim,
    flipSinToCos: c3.flip_sin_to_cos,
    shift: c3.freq_shift
  }));
  const e1 = m3.act([
    B3,
    T3
  ], "time_embedding.linear_1");
  const e1s = m3.act([
    B3,
    T3
  ], "time_embedding.act");
  const temb = m3.act([
    B3,
    T3
  ], "time_embedding");
  const tembAct = m3.act([
    B3,
    T3
  ], "time_embedding.silu");
  const l1 = m3.param("time_embedding.linear_1.weight");
  const l22 = m3.param("time_embedding.linear_2.weight");
  const s1 = {
    rows: B3,
    inFeatures: plan.timeProjDim,
    outFeatures: T3
  };
  const s22 = {
    rows: B3,
    inFeatures: T3,
    outFeatures: T3
  };
  await m3.emit(linearForward(gpu, {
    x: proj,
    weight: l1,
    bias: m3.param("time_embedding.linear_1.bias"),
    y: e1,
    ...s1
  }));
  await m3.emit(siluForward(gpu, e1, e1s));
  await m3.emit(linearForward(gpu, {
    x: e1s,
    weight: l22,
    bias: m3.param("time_embedding.linear_2.bias"),
    y: temb,
    ...s22
  }));
  await m3.emit(siluForward(gpu, temb, tembAct));
  m3.activations.set("time_proj", proj);
  m3.activations.set("time_embedding", temb);
  m3.onBackward(async () => {
    const dTemb = m3.scratch("time.dTemb", [
      B3,
      T3
    ]);
    const dE1s = m3.scratch("time.dE1s", [
      B3,
      T3
    ]);
    const dE1 = m3.scratch("time.dE1", [
      B3,
      T3
    ]);
    await m3.emitBackward(siluBackward(gpu, temb, m3.grad(tembAct), dTemb));
    await m3.emitBackward(linearBackward(gpu, {
      x: e1s,
      weight: l22,
      dy: dTemb,
      dx: dE1s,
      dWeight: m3.paramGrad("time_embedding.linear_2.weight"),
      dBias: m3.paramGrad("time_embedding.linear_2.bias"),
      ...s22
    }));
    await m3.emitBackward(siluBackward(gpu, e1, dE1s, dE1));
    await m3.emitBackward(linearBackward(gpu, {
      x: proj,
      weight: l1,
      dy: dE1,
      dWeight: m3.paramGrad("time_embedding.linear_1.weight"),
      dBias: m3.paramGrad("time_embedding.linear_1.bias"),
      ...s1
    }));
  });
  return {
    tembAct,
    dim: T3
  };
}
async function encoderProjection(m3, plan, states, length) {
  if (!plan.hasEncoderHidProj) return {
    tokens: states,
    length,
    dim: plan.contextDim
  };
  const B3 = m3.batch;
  const tokens = m3.act([
    B3,
    length,
    plan.contextDim
  ], "encoder_hid_proj");
  const weight = m3.param("encoder_hid_proj.weight");
  const shape = {
    rows: B3 * length,
    inFeatures: plan.encoderInputDim,
    outFeatures: plan.contextDim
  };
  await m3.emit(linearForward(m3.gpu, {
    x: states,
    weight,
    bias: m3.param("encoder_hid_proj.bias"),
    y: tokens,
    ...shape
  }));
  m3.activations.set("encoder_hid_proj", tokens);
  m3.onBackward(async () => {
    await m3.emitBackward(linearBackward(m3.gpu, {
      x: states,
      weight,
      dy: m3.grad(tokens),
      dx: m3.grad(states),
      dWeight: m3.paramGrad("encoder_hid_proj.weight"),
      dBias: m3.paramGrad("encoder_hid_proj.bias"),
      accumulateDx: m3.accumulate(states),
      ...shape
    }));
  });
  return {
    tokens,
    length,
    dim: plan.contextDim
  };
}
async function concat(m3, current, channelsA, skip, channelsB, spatial, label) {
  const B3 = m3.batch;
  const out = m3.act([
    B3,
    channelsA + channelsB,
    spatial
  ], `${label}.cat`);
  const shape = {
    batch: B3,
    channelsA,
    channelsB,
    spatial
  };
  await m3.emit(concatChannels(m3.gpu, {
    a: current,
    b: skip,
    out,
    ...shape
  }));
  m3.onBackward(async () => {
    const accA = m3.accumulate(current);
    const accB = m3.accumulate(skip);
    if (accA === accB) {
      await m3.emitBackward(splitChannels(m3.gpu, {
        dOut: m3.grad(out),
        da: m3.grad(current),
        db: m3.grad(skip),
        accumulate: accA,
        ...shape
      }));
      return;
    }
    throw new Error(`${label}: skip and current gradients disagree on accumulation`);
  });
  return out;
}

// gpu/sample/sampler.ts
var WG7 = 64;
var fillValueKernel = {
  name: "fillValue",
  params: {
    n: "u32",
    value: "f32"
  },
  bindings: {
    out: "write"
  },
  consts: {
    WG: WG7
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i < p.n) { out[i] = p.value; }
}`
  )
};
var guidanceKernel = {
  name: "classifierFreeGuidance",
  params: {
    n: "u32",
    scale: "f32"
  },
  bindings: {
    output: "read",
    eps: "write"
  },
  consts: {
    WG: WG7
  },
  code: (
    /* wgsl */
    `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_id(gid, nwg, WG);
  if (i >= p.n) { return; }
  let cond = output[i];
  let uncond = output[i + p.n];
  eps[i] = uncond + p.scale * (cond - uncond);
}`
  )
};
var fillItemNormalKernel = {
  name: "fillItemNormal",
  params: {
    n: "u32",
    stream: "u32",
    itemSize: "u32"
  },
  bindings: {
    itemSeeds: "read array<u32>",
    out: "write"
  },
  consts: {
    WG: WG7
  },
  code: RANDOM_WGSL + /* wgsl */
  `
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) gid: vec3u,
                                     @builtin(num_workgroups) nwg: vec3u) {
  let first = flat_id(gid, nwg, WG) * 4u;
  if (first >= p.n) { return; }
  let item = first / p.itemSize; // itemSize is a multiple of 4: a block never spans two items
  let counter = first - item * p.itemSize + itemSeeds[2u * item + 1u] * p.itemSize;
  let v = rand_words_to_normal4(philox4x32(counter / 4u, 0u, itemSeeds[2u * item], p.stream));
  for (var j = 0u; j < 4u; j++) {
    if (first + j < p.n) { out[first + j] = v[j]; }
  }
}`
};
var SpriteSampler = class {
  gpu;
  model;
  #programs;
  #estimates;
  maxPrograms;
  budget;
  constructor(gpu, model, options = {}) {
    this.gpu = gpu;
    this.model = model;
    this.#programs = /* @__PURE__ */ new Map();
    this.#estimates = /* @__PURE__ */ new Map();
    this.maxPrograms = options.maxPrograms ?? 6;
    this.budget = options.budget;
    if (!model.embeddingParams) {
      throw new CheckpointError(`this model has no class-embedding net (${CHECKPOINT_FILES.embedding}), so it cannot sample by class: a plain diffusers UNet folder can be checked (deno task check-reference) but needs the tutorial's embedding net beside it to sample, saved as ${CHECKPOINT_FILES.embedding} with the torch Sequential's names (0.weight, 0.bias, 3.weight, 3.bias), or a model trained here (deno task train)`);
    }
    const { in_channels, out_channels, sample_size } = model.config;
    if (in_channels !== 3 || out_channels !== 3) {
      throw new CheckpointError(`sprites are RGB: this UNet has ${in_channels} input and ${out_channels} output channels`);
    }
    if (!sample_size) {
      throw new CheckpointError("this UNet's config has no sample_size, so its sprites have no size");
    }
  }
  /** Sprites are size x size pixels: the model's sample_size, the size it was trained at. */
  get size() {
    return this.model.config.sample_size;
  }
  get classes() {
    return this.model.embedding.inFeatures;
  }
  /** Bytes the programs hold now (their buffers and textures as allocated). */
  get programBytes() {
    let n2 = 0;
    for (const e3 of this.#programs.values()) n2 += e3.scope.bytes;
    return n2;
  }
  get programCount() {
    return this.#programs.size;
  }
  /**
   * Returns count sprites as uint8 HWC RGB, [count, H, W, 3]. Same request, same bytes, with or
   * without `onProgress`.
   */
  async generate(req, onProgress) {
    return toBytes(await this.generateFloats(req, onProgress), this.size);
  }
  /**
   * What the program for this request holds, before it is built: a dry run of its builder against a
   * counting device (gpu/runtime/memory.ts) gives the device bytes; the host keeps the readback.
   */
  estimate(req) {
    const batch = bucket(req.count);
    const key = programKey(batch, req);
    let e3 = this.#estimates.get(key);
    if (!e3) {
      e3 = dryRunAllocations(this.gpu, (g3) => this.#build(g3, batch, req)).then((c3) => ({
        deviceBytes: c3.bytes,
        // The readback's copy, the floats cut from it and the bytes made from them.
        hostBytes: 3 * batch * itemSize(this.model) * 4
      }));
      this.#estimates.set(key, e3);
      e3.catch(() => this.#estimates.delete(key));
    }
    return e3;
  }
  /** Whether a program for this request is built already (no new memory needed). */
  isBuilt(req) {
    return this.#programs.has(programKey(bucket(req.count), req));
  }
  /** Whether this request's program is built or fits the budget once idle programs are evicted. */
  async fits(req) {
    if (!this.budget || this.isBuilt(req)) return true;
    const need = estimateTotal(await this.estimate(req));
    let evictable = 0;
    for (const e3 of this.#programs.values()) {
      if (e3.running === 0) evictable += estimateTotal(e3.estimate);
    }
    return this.budget.usedBytes - evictable + need <= this.budget.limitBytes;
  }
  /**
   * The sampler's output before the conversion to bytes: [count, 3, H, W] f32, clipped to [-1, 1]
   * by the last scheduler step. Same request, same numbers. A result that is not finite throws
   * NonFiniteResultError.
   */
  async generateFloats(req, onProgress) {
    const entry = this.#entry(req);
    entry.running++;
    try {
      const p3 = await entry.program;
      const out = await this.#run(p3, req, onProgress);
      const bad = out.findIndex((v3) => !Number.isFinite(v3));
      if (bad >= 0) {
        const count = out.reduce((n2, v3) => n2 + (Number.isFinite(v3) ? 0 : 1), 0);
        throw new NonFiniteResultError(`the model's output is not finite (${out[bad]} in ${count} of ${out.length} values): its weights or this request's class weights overflow float32`);
      }
      return out;
    } finally {
      entry.running--;
      if (entry.evicted && entry.running === 0) this.#destroy(entry);
    }
  }
  /** Destroys every program now (a swapped-out model's sampler); passes in flight finish first. */
  close() {
    for (const e3 of [
      ...this.#programs.values()
    ]) this.#evict(e3);
  }
  #entry(req) {
    const batch = bucket(req.count);
    const key = programKey(batch, req);
    const cached = this.#programs.get(key);
    if (cached) {
      this.#programs.delete(key);
      this.#programs.set(key, cached);
      return cached;
    }
    const scope = new AllocationScope(`sampler ${key}`);
    const entry = {
      key,
      scope,
      estimate: {
        deviceBytes: 0,
        hostBytes: 0
      },
      program: Promise.resolve(void 0),
      running: 0,
      evicted: false
    };
    entry.program = (async () => {
      entry.estimate = await this.estimate(req);
      this.#makeRoom(entry);
      this.budget?.reserve(entry, estimateTotal(entry.estimate), `a sampling program of ${batch} sprites x ${req.steps} steps` + (req.guidance !== 1 ? " with guidance" : ""));
      return await this.#build(withAllocations(this.gpu, scope), batch, req);
    })();
    entry.program.catch(() => this.#evict(entry));
    this.#programs.set(key, entry);
    return entry;
  }
  /** Evicts idle programs, least recently used first, until `entry` fits the count and budget. */
  #makeRoom(entry) {
    const need = estimateTotal(entry.estimate);
    for (const other of [
      ...this.#programs.values()
    ]) {
      if (other === entry || other.running > 0) continue;
      const full = this.#programs.size > this.maxPrograms;
      if (!full && (!this.budget || this.budget.fits(need))) break;
      this.#evict(other);
    }
  }
  #evict(entry) {
    if (this.#programs.get(entry.key) === entry) this.#programs.delete(entry.key);
    entry.evicted = true;
    if (entry.running === 0) this.#destroy(entry);
  }
  #destroy(entry) {
    entry.scope.destroy();
    this.budget?.release(entry);
  }
  async #run(p3, req, onProgress) {
    const labels = new Float32Array(p3.labels.size);
    labels.set(req.labels.subarray(0, req.count * this.classes));
    upload(this.gpu, p3.labels, labels);
    const seeds = new Uint32Array(p3.batch * 2);
    for (let i3 = 0; i3 < req.count; i3++) {
      seeds[2 * i3] = req.itemSeeds ? req.itemSeeds[2 * i3] : req.seed >>> 0;
      seeds[2 * i3 + 1] = req.itemSeeds ? req.itemSeeds[2 * i3 + 1] : i3;
    }
    upload(this.gpu, p3.itemSeeds, seeds);
    for (const d3 of p3.guidance) {
      setParams(this.gpu, d3, {
        n: p3.batch * itemSize(this.model),
        scale: req.guidance
      });
    }
    let dispatches = p3.dispatches;
    let stepEnds = p3.stepEnds;
    if (req.latents) {
      const size = itemSize(this.model);
      if (req.latents.length !== req.count * size) {
        throw new RequestError(`the starting noise holds ${req.latents.length} values; ${req.count} sprites need ${req.count * size} (${size} each)`);
      }
      const x3 = new Float32Array(p3.batch * size);
      x3.set(req.latents);
      upload(this.gpu, p3.sample, x3);
      dispatches = dispatches.filter((_3, i3) => i3 !== p3.firstDraw);
      stepEnds = stepEnds.map((e3) => e3 - 1);
    }
    const ends = onProgress ? stepEnds : [
      dispatches.length
    ];
    let start = 0;
    for (const [k2, end] of ends.entries()) {
      const encoder = this.gpu.device.createCommandEncoder();
      encode(encoder, dispatches.slice(start, end));
      this.gpu.device.queue.submit([
        encoder.finish()
      ]);
      start = end;
      if (onProgress) {
        await this.gpu.device.queue.onSubmittedWorkDone();
        onProgress(k2 + 1, ends.length);
      }
    }
    const x2 = await readback(this.gpu, p3.sample);
    return x2.subarray(0, req.count * itemSize(this.model));
  }
  /** Builds the program on `gpu` (the sampler's device with a scope, or a counting device). */
  async #build(gpu, batch, req) {
    const { model } = this;
    const guided = req.guidance !== 1;
    const rows = guided ? 2 * batch : batch;
    const unet = await buildUNet(gpu, model.config, {
      batch: rows,
      training: false,
      withBackward: false,
      params: model.unetParams,
      sharedPrefix: guided
    });
    const emb = await buildClassEmbedding(gpu, model.embedding, {
      batch: rows,
      training: false,
      params: model.embeddingParams,
      output: unet.encoderHiddenStates
    });
    const n2 = batch * itemSize(model);
    const itemSeeds = createTensor(gpu, [
      batch * 2
    ], "u32", "sampler.itemSeeds");
    const size = itemSize(model);
    const fillNormal = (args) => createDispatch(gpu, fillItemNormalKernel, {
      itemSeeds,
      out: args.out
    }, grid1d(Math.ceil(n2 / 4), WG7), {
      n: n2,
      stream: args.stream,
      itemSize: size
    });
    const sample = unet.sample;
    const eps = guided ? createTensor(gpu, [
      n2
    ], "f32", "sampler.eps") : unet.output;
    const noise = createTensor(gpu, [
      n2
    ], "f32", "sampler.noise");
    const dispatches = [
      ...unet.prepare,
      ...emb.forward,
      await fillNormal({
        out: sample,
        stream: 0
      })
    ];
    const firstDraw = dispatches.length - 1;
    const scheduler = req.scheduler === "ddim" ? new DDIMScheduler() : new DDPMScheduler();
    scheduler.setTimesteps(req.steps);
    const guidance = [];
    const stepEnds = [];
    for (const [k2, t3] of scheduler.timesteps.entries()) {
      dispatches.push(await createDispatch(gpu, fillValueKernel, {
        out: unet.timesteps
      }, grid1d(rows, WG7), {
        n: rows,
        value: t3
      }));
      dispatches.push(...unet.forwardPrepared);
      if (guided) {
        const combine = await createDispatch(gpu, guidanceKernel, {
          output: unet.output,
          eps
        }, grid1d(n2, WG7), {
          n: n2,
          scale: req.guidance
        });
        guidance.push(combine);
        dispatches.push(combine);
      }
      const s3 = scheduler.stepScalars(t3);
      const modelOutput = guided ? eps : tensorView(unet.output, 0, [
        n2
      ]);
      const ddim = scheduler instanceof DDIMScheduler;
      const noisy = ddim ? req.eta > 0 : t3 > 0;
      if (noisy) dispatches.push(await fillNormal({
        out: noise,
        stream: k2 + 1
      }));
      const step = {
        modelOutput,
        sample,
        out: sample,
        noise: noisy ? noise : void 0,
        alphaProdT: s3.alphaProdT,
        alphaProdTPrev: s3.alphaProdTPrev,
        clipSample: true,
        n: n2
      };
      dispatches.push(await (ddim ? ddimStep(gpu, {
        ...step,
        eta: req.eta
      }) : ddpmStep(gpu, step)));
      stepEnds.push(dispatches.length);
    }
    const slim = withoutRedundantRefreshes(dispatches, [
      firstDraw,
      ...stepEnds
    ]);
    return {
      batch,
      labels: emb.input,
      itemSeeds,
      sample,
      dispatches: slim.list,
      guidance,
      stepEnds: slim.marks.slice(1),
      firstDraw: slim.marks[0]
    };
  }
};
function programKey(batch, req) {
  return [
    batch,
    req.steps,
    req.eta,
    req.scheduler,
    req.guidance !== 1
  ].join("|");
}
function itemSize(model) {
  const size = model.config.sample_size;
  return model.config.in_channels * size * size;
}
function bucket(count) {
  const n2 = Math.max(1, count);
  if (n2 <= 4) return 2 ** Math.ceil(Math.log2(n2));
  const step = n2 <= 32 ? 4 : 8;
  return Math.ceil(n2 / step) * step;
}
function toBytes(x2, size, channels = 3) {
  const plane = size * size;
  const count = x2.length / (channels * plane);
  const out = new Uint8Array(x2.length);
  for (let b = 0; b < count; b++) {
    for (let c3 = 0; c3 < channels; c3++) {
      for (let s3 = 0; s3 < plane; s3++) {
        const v3 = Math.min(1, Math.max(0, x2[(b * channels + c3) * plane + s3] / 2 + 0.5));
        out[(b * plane + s3) * channels + c3] = Math.round(v3 * 255);
      }
    }
  }
  return out;
}

// static/engine.ts
var ON_DEVICE_LIMITS = {
  maxCount: 64,
  maxPerClass: 16,
  maxScale: 16
};
var SERVER_MODEL_URL = "/api/model/files/";
async function webGpuAdapter() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return false;
  try {
    return await gpu.requestAdapter() !== null;
  } catch {
    return false;
  }
}
async function loadOnDevice(baseUrl, gpu) {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const files = /* @__PURE__ */ new Map();
  const optional = /* @__PURE__ */ new Set([
    CHECKPOINT_FILES.embedding,
    CHECKPOINT_FILES.info
  ]);
  await Promise.all(Object.values(CHECKPOINT_FILES).map(async (name) => {
    const res = await fetch(new URL(name, new URL(base, globalThis.location?.href)));
    if (res.ok) files.set(name, new Uint8Array(await res.arrayBuffer()));
    else {
      await res.body?.cancel();
      if (!optional.has(name) || res.status !== 404) {
        throw new CheckpointError(`${base}${name}: ${res.status} ${res.statusText}`.trim());
      }
    }
  }));
  gpu ??= await requestGpu({
    largeBuffers: false,
    timestamps: false
  });
  const model = spriteModelFromCheckpoint(gpu, decodeCheckpoint(base, files), base);
  const sampler = new SpriteSampler(gpu, model);
  let queue = Promise.resolve();
  return {
    gpu,
    model,
    async generate(fields, onProgress) {
      const request = parseSamplingRequest(fields, {
        classNames: model.classNames,
        limits: ON_DEVICE_LIMITS,
        forms: [
          "class",
          "classes",
          "labels"
        ],
        defaultCount: 8
      });
      const run2 = queue.then(async () => {
        const started = performance.now();
        const sprites = await sampler.generate(request.job, onProgress);
        const ms = Math.round(performance.now() - started);
        return {
          request,
          sprites,
          size: sampler.size,
          ms
        };
      });
      queue = run2.catch(() => {
      });
      return await run2;
    }
  };
}

// gpu/eval/table.ts
var pct = (v3) => Number.isFinite(v3) ? `${(100 * v3).toFixed(1)}%` : "-";
var num = (v3, digits = 2) => Number.isFinite(v3) ? v3.toFixed(digits) : "-";
function classTable(r3) {
  const g3 = r3.settings.mainGuidance;
  const names = r3.classNames;
  const cons = r3.consistency;
  const header = [
    "class",
    "judge",
    ...cons.map((c3) => `cons g${c3.guidance}`),
    `FID g${g3}`,
    "floor",
    "copies",
    "real",
    "thresh",
    "div",
    "real",
    "ratio",
    ...r3.backgrounds ? [
      "clean bg",
      "corner gap"
    ] : []
  ];
  const rows = names.map((name, c3) => {
    const m3 = r3.memorization.perClass[c3];
    const d3 = r3.diversity.perClass[c3];
    return [
      `${c3} ${name}`,
      pct(r3.judge.heldOut.perClass[c3]?.accuracy),
      ...cons.map((x2) => pct(x2.perClass[c3].share)),
      num(r3.fid.perClass[c3].generated),
      num(r3.fid.perClass[c3].floor),
      pct(m3.generated),
      pct(m3.heldOutReal),
      num(m3.threshold, 3),
      num(d3.generated, 3),
      num(d3.real, 3),
      num(d3.ratio),
      ...r3.backgrounds ? [
        pct(r3.backgrounds.perClass[c3].generated),
        num(r3.backgrounds.perClass[c3].cornerGap, 3)
      ] : []
    ];
  });
  const meanOf = (values) => values.reduce((a4, b) => a4 + b, 0) / values.length;
  rows.push([
    "all (mean)",
    pct(r3.judge.heldOut.balancedAccuracy),
    ...cons.map((x2) => pct(x2.mean)),
    num(r3.fid.overall.generated),
    num(r3.fid.overall.floor),
    pct(r3.memorization.overall.generated),
    pct(r3.memorization.overall.heldOutReal),
    "",
    num(meanOf(r3.diversity.perClass.map((d3) => d3.generated)), 3),
    num(meanOf(r3.diversity.perClass.map((d3) => d3.real)), 3),
    num(meanOf(r3.diversity.perClass.map((d3) => d3.ratio))),
    ...r3.backgrounds ? [
      pct(r3.backgrounds.overall),
      num(r3.backgrounds.cornerGap, 3)
    ] : []
  ]);
  return {
    header,
    rows
  };
}

// static/quality_tab.tsx
var DEFAULT_PER_CLASS2 = 16;
var MAX_PER_CLASS = 64;
function QualityTab(props) {
  const [view, setView] = d2();
  const [perClass, setPerClass] = d2(DEFAULT_PER_CLASS2);
  const [error, setError] = d2("");
  const [finished2, setFinished] = d2(0);
  const following = T2(void 0);
  const follow = () => {
    following.current?.abort();
    const abort = new AbortController();
    following.current = abort;
    readEvents("/api/quality/events", (name, data) => {
      if (name === "state") setView(data);
      else if (name === "progress") {
        setView((v3) => v3 && {
          ...v3,
          status: "running",
          progress: data
        });
      } else if (name === "end") {
        setView(data);
        setFinished((n2) => n2 + 1);
      }
    }, {
      signal: abort.signal
    }).catch(() => {
    });
  };
  A2(() => {
    api("/api/quality").then((v3) => {
      setView(v3);
      if (v3.status === "running") follow();
    }, (e3) => setError(e3.message));
    return () => following.current?.abort();
  }, [
    props.modelVersion
  ]);
  const measure = async () => {
    setError("");
    try {
      const v3 = await api("/api/quality", {
        method: "POST",
        body: JSON.stringify({
          per_class: perClass
        })
      });
      setView(v3);
      follow();
    } catch (e3) {
      setError(e3.message);
    }
  };
  const running = view?.status === "running";
  const p3 = view?.progress;
  const report = view?.report;
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "card",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "Measured quality of the served model"
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            children: [
              "Sprites generated per class with fixed seeds, judged by the classifier kept beside the model (made by",
              " ",
              /* @__PURE__ */ a2("code", {
                children: "deno task eval"
              }),
              "): how many read as their class, FID against the real sprites beside its floor, near-copies of training sprites, diversity and clean backgrounds."
            ]
          }),
          /* @__PURE__ */ a2("div", {
            class: "controls",
            children: [
              /* @__PURE__ */ a2("label", {
                children: [
                  "sprites per class",
                  /* @__PURE__ */ a2("input", {
                    type: "number",
                    id: "quality-per-class",
                    min: 2,
                    max: MAX_PER_CLASS,
                    value: perClass,
                    onInput: (e3) => setPerClass(Number(e3.target.value))
                  })
                ]
              }),
              /* @__PURE__ */ a2("button", {
                type: "button",
                class: "primary",
                id: "measure",
                disabled: running,
                onClick: measure,
                children: "Measure"
              }),
              error && /* @__PURE__ */ a2("span", {
                class: "field-error",
                id: "quality-error",
                role: "alert",
                children: error
              })
            ]
          }),
          running && p3 && /* @__PURE__ */ a2("div", {
            class: "request-progress",
            id: "quality-status",
            children: [
              /* @__PURE__ */ a2("progress", {
                id: "quality-progress",
                max: p3.total,
                value: p3.done
              }),
              /* @__PURE__ */ a2("span", {
                class: "note",
                children: [
                  p3.phase,
                  " (",
                  p3.done,
                  "/",
                  p3.total,
                  ")"
                ]
              })
            ]
          }),
          view?.status === "failed" && /* @__PURE__ */ a2("div", {
            class: "error",
            role: "alert",
            children: [
              "The evaluation failed: ",
              view.error
            ]
          })
        ]
      }),
      report && /* @__PURE__ */ a2(Report, {
        report,
        version: finished2
      })
    ]
  });
}
function groups(r3) {
  return [
    [
      "",
      2
    ],
    [
      "consistency",
      r3.consistency.length
    ],
    [
      "FID",
      2
    ],
    [
      "near-copies",
      3
    ],
    [
      "diversity",
      3
    ],
    ...r3.backgrounds ? [
      [
        "backgrounds",
        2
      ]
    ] : []
  ];
}
function Report(props) {
  const r3 = props.report;
  const s3 = r3.settings;
  const { header, rows } = classTable(r3);
  const pct2 = (v3) => `${(100 * v3).toFixed(1)}%`;
  return /* @__PURE__ */ a2($, {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "card",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: [
              "Quality of ",
              r3.model
            ]
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            id: "quality-settings",
            children: [
              s3.perClass,
              " sprites per class, DDIM ",
              s3.steps,
              " steps, eta 0, seed",
              " ",
              s3.seed,
              "; FID, copies, diversity and backgrounds at guidance",
              " ",
              s3.mainGuidance,
              "; the classifier reads its held-out sprites at",
              " ",
              pct2(r3.judge.heldOut.accuracy),
              "; ",
              r3.seconds.toFixed(0),
              " s"
            ]
          }),
          /* @__PURE__ */ a2("table", {
            class: "quality",
            id: "quality-table",
            children: [
              /* @__PURE__ */ a2("thead", {
                children: [
                  /* @__PURE__ */ a2("tr", {
                    class: "groups",
                    children: groups(r3).map(([label, span], i3) => /* @__PURE__ */ a2("th", {
                      colSpan: span,
                      children: label
                    }, i3))
                  }),
                  /* @__PURE__ */ a2("tr", {
                    children: header.map((h3, i3) => /* @__PURE__ */ a2("th", {
                      children: h3
                    }, i3))
                  })
                ]
              }),
              /* @__PURE__ */ a2("tbody", {
                children: rows.map((row, i3) => /* @__PURE__ */ a2("tr", {
                  children: row.map((cell, j2) => /* @__PURE__ */ a2("td", {
                    children: cell
                  }, j2))
                }, i3))
              })
            ]
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            children: "judge: the classifier's held-out accuracy. cons: share read as the class asked for. FID: classifier features, generated vs half the real sprites; floor: as many real sprites of the other half. copies: share near a training sprite; real: the held-out sprites' own share. div: mean pairwise distance, generated and real. clean bg: share passing the cleaning rule."
          })
        ]
      }),
      /* @__PURE__ */ a2("div", {
        class: "card",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "Samples (a row per class)"
          }),
          /* @__PURE__ */ a2("img", {
            class: "pixel",
            id: "quality-samples",
            src: `/api/quality/samples.png?v=${props.version}`,
            alt: "generated sprites, a row per class"
          }),
          /* @__PURE__ */ a2("h2", {
            children: "Nearest training sprites (generated above, closest first)"
          }),
          /* @__PURE__ */ a2("img", {
            class: "pixel",
            id: "quality-nearest",
            src: `/api/quality/nearest.png?v=${props.version}`,
            alt: "generated sprites over their nearest training sprites"
          })
        ]
      })
    ]
  });
}

// static/sprites_tab.tsx
var MIX_COUNT = 8;
var TYPING_PAUSE_MS = 450;
function fieldsOf(s3) {
  const n2 = (v3) => v3.trim() === "" ? v3 : Number(v3);
  return {
    count: n2(s3.count),
    steps: n2(s3.steps),
    eta: n2(s3.eta),
    seed: n2(s3.seed),
    guidance: n2(s3.guidance)
  };
}
var LABELS = {
  count: "per class",
  steps: "steps",
  eta: "eta",
  seed: "seed",
  guidance: "guidance"
};
function fieldErrors(s3, limits) {
  const errors = {};
  const keys = Object.keys(LABELS);
  const fields = fieldsOf(s3);
  const check = (f4) => parseSamplingRequest({
    class: 0,
    ...f4
  }, {
    classNames: [
      "any"
    ],
    limits,
    forms: [
      "class"
    ],
    nameOf: (k2) => LABELS[k2] ?? k2
  });
  for (const k2 of keys) {
    const text = s3[k2].trim();
    if (text === "") errors[k2] = `${LABELS[k2]} needs a value`;
    else if (!Number.isFinite(Number(text))) {
      errors[k2] = `${LABELS[k2]} must be a number, got "${text.slice(0, 20)}"`;
    } else {
      try {
        check({
          count: 1,
          steps: 1,
          guidance: 1,
          [k2]: fields[k2]
        });
      } catch (e3) {
        if (!(e3 instanceof RequestError)) throw e3;
        errors[k2] = e3.message;
      }
    }
  }
  if (Object.keys(errors).length) return errors;
  try {
    check(fields);
  } catch (e3) {
    if (!(e3 instanceof RequestError)) throw e3;
    errors[keys.find((k2) => e3.message.startsWith(LABELS[k2])) ?? "steps"] = e3.message;
  }
  return errors;
}
function spriteUrls(sprites, size) {
  const px = size * size * 3;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const context = canvas.getContext("2d");
  const out = [];
  for (let i3 = 0; i3 < sprites.length / px; i3++) {
    const image = context.createImageData(size, size);
    for (let p3 = 0; p3 < size * size; p3++) {
      image.data.set(sprites.subarray(i3 * px + p3 * 3, i3 * px + p3 * 3 + 3), p3 * 4);
      image.data[p3 * 4 + 3] = 255;
    }
    context.putImageData(image, 0, 0);
    out.push(canvas.toDataURL("image/png"));
  }
  return out;
}
async function makeSprites(engine, body, onProgress, signal) {
  if (engine) {
    const made = await engine.generate(body, (done, total) => {
      if (!signal.aborted) onProgress({
        state: "running",
        done,
        total
      });
    });
    return {
      sprites: spriteUrls(made.sprites, made.size),
      ms: made.ms,
      where: "device"
    };
  }
  let answer;
  let failure2;
  await readEvents("/api/generate", (name, data) => {
    if (name === "progress") {
      const { done, total } = data;
      onProgress({
        state: "running",
        done,
        total
      });
    } else if (name === "result") answer = data;
    else if (name === "error") {
      const e3 = data;
      failure2 = `${e3.error}: ${e3.detail}`;
    }
  }, {
    body: {
      ...body,
      scale: 1,
      format: "json"
    },
    signal
  });
  if (failure2 || !answer) {
    throw new Error(failure2 ?? "the server closed the stream without sprites");
  }
  return {
    sprites: answer.sprites,
    ms: answer.ms,
    where: "server",
    pass: answer.pass,
    waitedMs: answer.queue_ms,
    prepared: answer.prepared
  };
}
function ProgressBar({ progress, name }) {
  if (!progress) return null;
  if (progress.state === "waiting") {
    return /* @__PURE__ */ a2("div", {
      class: "request-progress",
      "data-card": name,
      "data-state": "waiting",
      children: [
        /* @__PURE__ */ a2("progress", {
          "aria-label": `${name}: waiting`
        }),
        /* @__PURE__ */ a2("span", {
          class: "note",
          children: "waiting for the GPU"
        })
      ]
    });
  }
  return /* @__PURE__ */ a2("div", {
    class: "request-progress",
    "data-card": name,
    "data-state": "running",
    children: [
      /* @__PURE__ */ a2("progress", {
        max: progress.total,
        value: progress.done,
        "aria-label": `${name}: steps`
      }),
      /* @__PURE__ */ a2("span", {
        class: "note",
        children: [
          "step ",
          progress.done,
          " of ",
          progress.total
        ]
      })
    ]
  });
}
function timingOf(m3) {
  if (m3.where === "device") return `${m3.ms} ms on this device`;
  if (m3.prepared) return `ready: made when the server started (${m3.ms} ms, compilation included)`;
  const shared = m3.pass && m3.pass.requests > 1 ? ` (one pass with ${m3.pass.requests - 1} other request${m3.pass.requests > 2 ? "s" : ""}, ${m3.pass.sprites} sprites)` : "";
  return `${m3.ms} ms generating${shared}${m3.waitedMs ? `, ${m3.waitedMs} ms waiting` : ""}`;
}
function SpriteCard(props) {
  return /* @__PURE__ */ a2("div", {
    class: "card sprite-card",
    "data-card": props.name,
    children: [
      /* @__PURE__ */ a2("h2", {
        children: props.title
      }),
      props.children,
      /* @__PURE__ */ a2(ProgressBar, {
        progress: props.progress,
        name: props.name
      }),
      props.made ? /* @__PURE__ */ a2($, {
        children: [
          /* @__PURE__ */ a2("div", {
            class: `sprite-grid${props.progress ? " stale" : ""}`,
            children: props.made.sprites.map((src, i3) => /* @__PURE__ */ a2("img", {
              class: "sprite",
              "data-class": props.name,
              "data-index": i3,
              src,
              alt: `${props.name} ${i3 + 1}`
            }, i3))
          }),
          /* @__PURE__ */ a2("div", {
            class: "note timing",
            children: timingOf(props.made)
          })
        ]
      }) : /* @__PURE__ */ a2("div", {
        class: "note",
        children: "\u2026"
      })
    ]
  });
}
function Field(props) {
  const { name, error } = props;
  return /* @__PURE__ */ a2("label", {
    class: error ? "invalid" : "",
    children: [
      LABELS[name],
      /* @__PURE__ */ a2("input", {
        name,
        inputMode: "decimal",
        value: props.settings[name],
        "aria-invalid": error ? "true" : void 0,
        "aria-describedby": error ? `${name}-error` : void 0,
        onInput: (e3) => props.onInput({
          ...props.settings,
          [name]: e3.target.value
        }),
        onKeyDown: (e3) => {
          if (e3.key === "Enter") props.onCommit();
        },
        onBlur: props.onCommit
      }),
      error && /* @__PURE__ */ a2("span", {
        class: "field-error",
        id: `${name}-error`,
        children: error
      })
    ]
  });
}
function SpritesTab(props) {
  const { classes, engine, settings } = props;
  const limits = props.limits ?? ON_DEVICE_LIMITS;
  const errors = fieldErrors(settings, limits);
  const valid = Object.keys(errors).length === 0;
  const [made, setMade] = d2({});
  const [progress, setProgress] = d2({});
  const [error, setError] = d2("");
  const [summary, setSummary] = d2("");
  const run2 = T2(void 0);
  const mixRun = T2(void 0);
  const pause = T2(void 0);
  const lastRun = T2("");
  const mix = classes.map((_3, i3) => props.mix?.[i3] ?? (i3 < 2 ? 0.5 : 0));
  const setOne = (set, k2, v3) => set((r3) => ({
    ...r3,
    [k2]: v3
  }));
  async function runGrids(s3) {
    if (Object.keys(fieldErrors(s3, limits)).length) return;
    const key = JSON.stringify([
      s3,
      engine ? 1 : 0,
      props.modelVersion,
      classes
    ]);
    lastRun.current = key;
    run2.current?.abort();
    const abort = new AbortController();
    run2.current = abort;
    const where = engine ? "on this device" : "on the server";
    setError("");
    setSummary(`generating ${classes.length} grids ${where}\u2026`);
    setProgress(Object.fromEntries(classes.map((c3) => [
      c3.name,
      {
        state: "waiting"
      }
    ])));
    const started = performance.now();
    let done = 0;
    const one = async (c3) => {
      const result = await makeSprites(engine, {
        class: c3.index,
        ...fieldsOf(s3)
      }, (p3) => !abort.signal.aborted && setOne(setProgress, c3.name, p3), abort.signal);
      if (abort.signal.aborted) return;
      setOne(setMade, c3.name, result);
      setOne(setProgress, c3.name, null);
      done++;
      if (done < classes.length) {
        setSummary(`generating: ${done} of ${classes.length} grids done ${where}`);
      }
    };
    try {
      if (engine) {
        for (const c3 of classes) {
          if (abort.signal.aborted) return;
          await one(c3);
        }
      } else await Promise.all(classes.map(one));
      if (!abort.signal.aborted) {
        setSummary(`${Math.round(performance.now() - started)} ms for ${classes.length} grids ${where}`);
      }
    } catch (e3) {
      if (abort.signal.aborted) return;
      setError(e3.message);
      setSummary("");
      setProgress({});
    }
  }
  async function runMix(weights) {
    if (!valid) return;
    mixRun.current?.abort();
    const abort = new AbortController();
    mixRun.current = abort;
    setOne(setProgress, "mix", {
      state: "waiting"
    });
    try {
      const result = await makeSprites(engine, {
        labels: weights,
        ...fieldsOf(settings),
        count: MIX_COUNT
      }, (p3) => !abort.signal.aborted && setOne(setProgress, "mix", p3), abort.signal);
      if (abort.signal.aborted) return;
      setOne(setMade, "mix", result);
    } catch (e3) {
      if (!abort.signal.aborted) setError(e3.message);
    } finally {
      if (!abort.signal.aborted) setOne(setProgress, "mix", null);
    }
  }
  A2(() => {
    runGrids(settings);
    if (props.mix) runMix(mix);
  }, [
    engine,
    props.modelVersion,
    classes.map((c3) => c3.name).join()
  ]);
  A2(() => () => {
    run2.current?.abort();
    mixRun.current?.abort();
  }, []);
  const commit = (s3) => {
    clearTimeout(pause.current);
    const key = JSON.stringify([
      s3,
      engine ? 1 : 0,
      props.modelVersion,
      classes
    ]);
    if (key !== lastRun.current) runGrids(s3);
  };
  const onInput = (s3) => {
    props.setSettings(s3);
    clearTimeout(pause.current);
    if (Object.keys(fieldErrors(s3, limits)).length) return;
    pause.current = setTimeout(() => commit(s3), TYPING_PAUSE_MS);
  };
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "controls",
        children: [
          Object.keys(LABELS).map((k2) => /* @__PURE__ */ a2(Field, {
            name: k2,
            settings,
            error: errors[k2],
            onInput,
            onCommit: () => commit(settings)
          }, k2)),
          /* @__PURE__ */ a2("button", {
            type: "button",
            class: "primary",
            id: "new-seed",
            onClick: () => {
              const s3 = {
                ...settings,
                seed: String(Math.floor(Math.random() * 1e6))
              };
              props.setSettings(s3);
              commit(s3);
            },
            children: "New seed"
          }),
          /* @__PURE__ */ a2("span", {
            class: "note",
            id: "timing",
            children: summary
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
        children: [
          classes.map((c3) => /* @__PURE__ */ a2(SpriteCard, {
            name: c3.name,
            title: `${c3.index} ${c3.name}`,
            made: made[c3.name],
            progress: progress[c3.name] ?? null
          }, c3.name)),
          /* @__PURE__ */ a2(SpriteCard, {
            name: "mix",
            title: "Class mix",
            made: made.mix,
            progress: progress.mix ?? null,
            children: [
              /* @__PURE__ */ a2("div", {
                class: "mixer",
                children: classes.map((c3, i3) => /* @__PURE__ */ a2("label", {
                  class: "slider",
                  children: [
                    /* @__PURE__ */ a2("span", {
                      children: c3.name
                    }),
                    /* @__PURE__ */ a2("input", {
                      type: "range",
                      name: `mix-${c3.name}`,
                      min: "0",
                      max: "1",
                      step: "0.05",
                      value: mix[i3],
                      onInput: (e3) => {
                        const next = [
                          ...mix
                        ];
                        next[i3] = Number(e3.target.value);
                        props.setMix(next);
                      }
                    }),
                    /* @__PURE__ */ a2("span", {
                      children: mix[i3].toFixed(2)
                    })
                  ]
                }, c3.name))
              }),
              /* @__PURE__ */ a2("p", {
                children: /* @__PURE__ */ a2("button", {
                  type: "button",
                  class: "primary",
                  id: "generate-mix",
                  disabled: !valid,
                  onClick: () => {
                    props.setMix(mix);
                    runMix(mix);
                  },
                  children: "Generate mixture"
                })
              })
            ]
          })
        ]
      })
    ]
  });
}

// static/loss_chart.tsx
var W = 640;
var H2 = 260;
var M = {
  left: 60,
  right: 16,
  top: 22,
  bottom: 40
};
function linearTicks(max, want = 5) {
  if (max <= 0) return [
    0
  ];
  const step = linearStep(max, want);
  const ticks = [];
  for (let t3 = 0; t3 <= max + 1e-9; t3 += step) ticks.push(Math.round(t3 * 1e6) / 1e6);
  return ticks;
}
function logTicks(lo, hi) {
  for (const mantissas of [
    [
      1,
      2,
      5
    ],
    [
      1,
      1.5,
      2,
      3,
      5,
      7
    ],
    [
      1,
      1.2,
      1.5,
      2,
      2.5,
      3,
      4,
      5,
      6,
      8
    ]
  ]) {
    const ticks2 = [];
    for (let e3 = Math.floor(Math.log10(lo)); e3 <= Math.ceil(Math.log10(hi)); e3++) {
      for (const m3 of mantissas) {
        const v3 = Number((m3 * 10 ** e3).toPrecision(3));
        if (v3 >= lo && v3 <= hi) ticks2.push(v3);
      }
    }
    if (ticks2.length >= 3) return ticks2;
  }
  const step = linearStep(hi - lo, 4);
  const ticks = [];
  for (let t3 = Math.ceil(lo / step) * step; t3 <= hi + step * 1e-9; t3 += step) {
    ticks.push(Number(t3.toPrecision(6)));
  }
  return ticks;
}
function linearStep(span, want) {
  const raw = span / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [
    1,
    2,
    5,
    10
  ].map((m3) => m3 * mag).find((s3) => s3 >= raw) ?? 10 * mag;
}
var short = (v3) => v3 >= 1e3 ? `${Number((v3 / 1e3).toPrecision(3))}k` : String(Number(v3.toPrecision(3)));
function LossChart(props) {
  const points = props.points.filter((p3) => p3.loss > 0 && Number.isFinite(p3.loss));
  if (points.length < 2) {
    return /* @__PURE__ */ a2("p", {
      class: "note",
      "data-chart": props.kind,
      children: [
        props.title,
        ": the curve appears after two readings."
      ]
    });
  }
  const xMax = Math.max(props.lastStep ?? 0, ...points.map((p3) => p3.step), 1);
  const losses = points.map((p3) => p3.loss);
  const lo = Math.min(...losses) / 1.08;
  const hi = Math.max(...losses) * 1.08;
  const pw = W - M.left - M.right;
  const ph = H2 - M.top - M.bottom;
  const x2 = (step) => M.left + step / xMax * pw;
  const y3 = (loss) => M.top + (1 - Math.log(loss / lo) / Math.log(hi / lo)) * ph;
  const xTicks = linearTicks(xMax);
  const yTicks = logTicks(lo, hi);
  const marks = (props.marks ?? []).filter((m3) => m3.step >= 0 && m3.step <= xMax);
  return /* @__PURE__ */ a2("figure", {
    class: "chart",
    children: [
      /* @__PURE__ */ a2("figcaption", {
        children: props.title
      }),
      /* @__PURE__ */ a2("svg", {
        class: "loss-chart",
        "data-chart": props.kind,
        viewBox: `0 0 ${W} ${H2}`,
        role: "img",
        "aria-label": `${props.title}: loss against step, log scale`,
        children: [
          /* @__PURE__ */ a2("g", {
            class: "axis x",
            children: [
              /* @__PURE__ */ a2("line", {
                x1: M.left,
                y1: M.top + ph,
                x2: M.left + pw,
                y2: M.top + ph
              }),
              xTicks.map((t3) => /* @__PURE__ */ a2("g", {
                children: [
                  /* @__PURE__ */ a2("line", {
                    x1: x2(t3),
                    y1: M.top + ph,
                    x2: x2(t3),
                    y2: M.top + ph + 4
                  }),
                  /* @__PURE__ */ a2("text", {
                    class: "tick",
                    x: x2(t3),
                    y: M.top + ph + 16,
                    "text-anchor": "middle",
                    children: short(t3)
                  })
                ]
              }, t3)),
              /* @__PURE__ */ a2("text", {
                class: "axis-label",
                x: M.left + pw / 2,
                y: H2 - 4,
                "text-anchor": "middle",
                children: "step"
              })
            ]
          }),
          /* @__PURE__ */ a2("g", {
            class: "axis y",
            children: [
              /* @__PURE__ */ a2("line", {
                x1: M.left,
                y1: M.top,
                x2: M.left,
                y2: M.top + ph
              }),
              yTicks.map((t3) => /* @__PURE__ */ a2("g", {
                children: [
                  /* @__PURE__ */ a2("line", {
                    class: "grid",
                    x1: M.left,
                    y1: y3(t3),
                    x2: M.left + pw,
                    y2: y3(t3)
                  }),
                  /* @__PURE__ */ a2("text", {
                    class: "tick",
                    x: M.left - 6,
                    y: y3(t3) + 4,
                    "text-anchor": "end",
                    children: short(t3)
                  })
                ]
              }, t3)),
              /* @__PURE__ */ a2("text", {
                class: "axis-label",
                transform: `translate(14 ${M.top + ph / 2}) rotate(-90)`,
                "text-anchor": "middle",
                children: "loss (log scale)"
              })
            ]
          }),
          marks.map((m3, i3) => /* @__PURE__ */ a2("g", {
            class: `mark ${m3.kind}`,
            "data-mark": m3.kind,
            "data-step": m3.step,
            children: [
              /* @__PURE__ */ a2("line", {
                x1: x2(m3.step),
                y1: M.top,
                x2: x2(m3.step),
                y2: M.top + ph
              }),
              /* @__PURE__ */ a2("text", {
                x: x2(m3.step) + 3,
                y: M.top - 8 + i3 % 2 * 12,
                children: m3.label
              })
            ]
          }, `${m3.kind}${m3.step}`)),
          /* @__PURE__ */ a2("polyline", {
            class: "series",
            points: points.map((p3) => `${x2(p3.step).toFixed(1)},${y3(p3.loss).toFixed(1)}`).join(" ")
          })
        ]
      })
    ]
  });
}
function formatLr(lr) {
  return lr.toExponential().replace(/\.0+e/, "e").replace("e+", "e").replace(/(\.\d*?)0+e/, "$1e");
}
function historyMarks(epochs) {
  const marks = [];
  let lr = null;
  let frozen = false;
  let start = 0;
  for (const e3 of epochs) {
    if (e3.lr !== null && e3.lr !== lr) {
      marks.push({
        step: start,
        kind: "lr",
        label: `lr ${formatLr(e3.lr)}`
      });
      lr = e3.lr;
    }
    if (e3.embedding_frozen && !frozen) {
      marks.push({
        step: start,
        kind: "freeze",
        label: `embedding frozen (epoch ${e3.epoch})`
      });
      frozen = true;
    }
    start = e3.step;
  }
  return marks;
}

// static/train_tab.tsx
var active = (j2) => j2.status === "running" || j2.status === "stopping";
var finished = (j2) => j2.status === "done" || j2.status === "stopped";
function recipeLine(start, base, r3) {
  const from = start === "scratch" ? `new model (${base})` : `fine-tune of ${base}`;
  const frozen = r3.freezeEpoch === 0 ? "embedding frozen from the start" : `embedding frozen after epoch ${r3.freezeEpoch}`;
  return [
    from,
    `batch ${r3.batch}`,
    `${r3.epochs} epoch${r3.epochs === 1 ? "" : "s"}`,
    `lr ${formatLr(r3.lr)}`,
    frozen,
    `mask ${r3.maskProb}`,
    `dropout ${r3.dropout}/${r3.embDropout}`,
    `seed ${r3.seed}`,
    r3.precision
  ].join(" \xB7 ");
}
function jobMarks(job) {
  const r3 = job.recipe;
  const p3 = job.progress;
  if (!r3 || !p3) return [];
  const marks = [
    {
      step: 0,
      kind: "lr",
      label: `lr ${formatLr(r3.lr)}`
    }
  ];
  const freezeStep = r3.freezeEpoch * p3.stepsPerEpoch;
  if (freezeStep <= p3.totalSteps) {
    marks.push({
      step: freezeStep,
      kind: "freeze",
      label: r3.freezeEpoch === 0 ? "embedding frozen" : `embedding frozen (epoch ${r3.freezeEpoch + 1})`
    });
  }
  return marks;
}
var FORM_FIELDS = [
  "epochs",
  "batch",
  "lr",
  "max_steps"
];
function TrainTab(props) {
  const [needsToken, setNeedsToken] = d2("");
  const [tokenText, setTokenText] = d2("");
  const [job, setJob] = d2({
    status: "idle"
  });
  const [error, setError] = d2("");
  const [start, setStart] = d2("serving");
  const [preset, setPreset] = d2("compact");
  const [form, setForm] = d2({
    epochs: "",
    batch: "",
    lr: "",
    max_steps: "50"
  });
  const [plan, setPlan] = d2();
  const [planError, setPlanError] = d2("");
  const [preview, setPreview] = d2();
  const [swap, setSwap] = d2();
  const [history2, setHistory] = d2();
  const [ready, setReady] = d2(false);
  const following = T2(void 0);
  const call = async (path, init) => {
    try {
      return await api(path, init);
    } catch (e3) {
      if (e3 instanceof ApiError && e3.status === 401) {
        setNeedsToken(savedToken() ? "refused" : "ask");
      }
      throw e3;
    }
  };
  const follow = () => {
    following.current?.abort();
    const abort = new AbortController();
    following.current = abort;
    readEvents("/api/train/events", (name, data) => {
      if (name === "state" || name === "end") setJob(data);
      else if (name === "progress") {
        const p4 = data;
        setJob((j2) => ({
          ...j2,
          progress: p4,
          losses: p4.loss === null ? j2.losses : [
            ...j2.losses ?? [],
            {
              step: p4.step,
              loss: p4.loss
            }
          ]
        }));
      }
    }, {
      signal: abort.signal
    }).catch(() => {
    });
  };
  const loadHistory = () => api("/api/model/log").then(setHistory, () => setHistory(void 0));
  const connect = async () => {
    try {
      const j2 = await call("/api/train");
      setNeedsToken("");
      setReady(true);
      setJob(j2);
      if (active(j2)) follow();
    } catch (e3) {
      if (!(e3 instanceof ApiError && e3.status === 401)) setError(e3.message);
    }
  };
  A2(() => {
    connect();
    loadHistory();
    return () => following.current?.abort();
  }, []);
  A2(() => {
    if (!ready) return;
    const q2 = new URLSearchParams({
      start
    });
    if (start === "scratch") q2.set("config", preset);
    for (const k2 of [
      "epochs",
      "batch",
      "lr"
    ]) {
      if (form[k2].trim()) q2.set(k2, form[k2].trim());
    }
    const timer = setTimeout(() => {
      call(`/api/train/recipe?${q2}`).then((p4) => {
        setPlan(p4);
        setPlanError("");
      }, (e3) => setPlanError(e3.message));
    }, 200);
    return () => clearTimeout(timer);
  }, [
    ready,
    start,
    preset,
    form.epochs,
    form.batch,
    form.lr
  ]);
  A2(() => {
    if (!finished(job) || !job.checkpoint || preview?.checkpoint === job.checkpoint) return;
    imageUrl("/api/train/preview.png?per_class=4&steps=10&seed=1&guidance=2").then((url) => setPreview({
      url,
      checkpoint: job.checkpoint
    }), (e3) => setError(e3.message));
  }, [
    job.status,
    job.checkpoint
  ]);
  const act = async (path, method, body) => {
    setError("");
    try {
      return await call(path, {
        method,
        body: body === void 0 ? void 0 : JSON.stringify(body)
      });
    } catch (e3) {
      setError(e3.message);
      return void 0;
    }
  };
  const startJob = async () => {
    const body = {
      start
    };
    if (start === "scratch") body.config = preset;
    for (const k2 of FORM_FIELDS) if (form[k2].trim()) body[k2] = Number(form[k2]);
    const steps = Number(form.max_steps);
    if (Number.isInteger(steps) && steps > 0) {
      body.log_every = Math.max(1, Math.min(10, Math.floor(steps / 20)));
    }
    const j2 = await act("/api/train", "POST", body);
    if (j2) {
      setJob(j2);
      setPreview(void 0);
      follow();
    }
  };
  const swapTo = async (path) => {
    const s3 = await act(path, "POST");
    if (s3) {
      setSwap(s3);
      props.onModelChange();
      loadHistory();
    }
  };
  if (needsToken) {
    return /* @__PURE__ */ a2("section", {
      children: /* @__PURE__ */ a2("form", {
        class: "card token",
        onSubmit: (e3) => {
          e3.preventDefault();
          saveToken(tokenText.trim());
          connect();
        },
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "This server's training needs its token"
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            children: [
              "It was started with",
              " ",
              /* @__PURE__ */ a2("code", {
                children: "--token"
              }),
              ". The token is sent as an Authorization header and kept for this tab only."
            ]
          }),
          needsToken === "refused" && /* @__PURE__ */ a2("div", {
            class: "error",
            role: "alert",
            children: "That token was not accepted."
          }),
          /* @__PURE__ */ a2("label", {
            children: [
              "token",
              /* @__PURE__ */ a2("input", {
                type: "password",
                name: "token",
                autoComplete: "off",
                value: tokenText,
                onInput: (e3) => setTokenText(e3.target.value)
              })
            ]
          }),
          /* @__PURE__ */ a2("button", {
            type: "submit",
            class: "primary",
            id: "use-token",
            children: "Use token"
          })
        ]
      })
    });
  }
  const p3 = job.progress;
  const fieldError = (k2) => planError && planError.includes(`: ${k2} `) ? planError : void 0;
  return /* @__PURE__ */ a2("section", {
    children: [
      /* @__PURE__ */ a2("div", {
        class: "card",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: "New training job"
          }),
          /* @__PURE__ */ a2("div", {
            class: "controls",
            children: [
              /* @__PURE__ */ a2("fieldset", {
                class: "start",
                children: [
                  /* @__PURE__ */ a2("label", {
                    children: [
                      /* @__PURE__ */ a2("input", {
                        type: "radio",
                        name: "start",
                        value: "serving",
                        checked: start === "serving",
                        onChange: () => setStart("serving")
                      }),
                      "fine-tune the served model"
                    ]
                  }),
                  /* @__PURE__ */ a2("label", {
                    children: [
                      /* @__PURE__ */ a2("input", {
                        type: "radio",
                        name: "start",
                        value: "scratch",
                        checked: start === "scratch",
                        onChange: () => setStart("scratch")
                      }),
                      "from scratch, preset",
                      /* @__PURE__ */ a2("select", {
                        name: "preset",
                        value: preset,
                        disabled: start !== "scratch",
                        onChange: (e3) => setPreset(e3.target.value),
                        children: [
                          /* @__PURE__ */ a2("option", {
                            value: "compact",
                            children: "compact"
                          }),
                          /* @__PURE__ */ a2("option", {
                            value: "reference",
                            children: "reference"
                          })
                        ]
                      })
                    ]
                  })
                ]
              }),
              FORM_FIELDS.map((k2) => /* @__PURE__ */ a2("label", {
                class: fieldError(k2) ? "invalid" : "",
                children: [
                  k2.replace("_", " "),
                  /* @__PURE__ */ a2("input", {
                    name: `train-${k2}`,
                    value: form[k2],
                    placeholder: k2 === "max_steps" ? "all" : !plan ? "" : k2 === "lr" ? formatLr(plan.recipe.lr) : String(plan.recipe[k2]),
                    onInput: (e3) => setForm({
                      ...form,
                      [k2]: e3.target.value
                    })
                  }),
                  fieldError(k2) && /* @__PURE__ */ a2("span", {
                    class: "field-error",
                    children: fieldError(k2)
                  })
                ]
              }, k2)),
              /* @__PURE__ */ a2("button", {
                type: "button",
                class: "primary",
                id: "start-job",
                disabled: active(job) || !!planError,
                onClick: startJob,
                children: "Start"
              }),
              /* @__PURE__ */ a2("button", {
                type: "button",
                id: "stop-job",
                disabled: !active(job),
                onClick: () => act("/api/train", "DELETE"),
                children: "Stop"
              })
            ]
          }),
          /* @__PURE__ */ a2("p", {
            class: "note",
            id: "plan-recipe",
            children: planError ? /* @__PURE__ */ a2("span", {
              class: "field-error",
              children: planError
            }) : plan ? `will run: ${recipeLine(plan.start, plan.base, plan.recipe)}${plan.note ? ` \u2014 ${plan.note}` : ""}` : "\u2026"
          })
        ]
      }),
      error && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: error
      }),
      job.status !== "idle" && /* @__PURE__ */ a2("div", {
        class: "card job",
        children: [
          /* @__PURE__ */ a2("h2", {
            children: [
              "Job ",
              job.run
            ]
          }),
          job.recipe && /* @__PURE__ */ a2("p", {
            class: "note",
            id: "job-recipe",
            children: recipeLine(job.start, job.base, job.recipe)
          }),
          job.note && /* @__PURE__ */ a2("p", {
            class: "note",
            children: job.note
          }),
          /* @__PURE__ */ a2("p", {
            id: "train-status",
            children: [
              job.status,
              p3 && ` \xB7 step ${p3.step}/${p3.totalSteps} \xB7 epoch ${Math.min(p3.epoch + 1, job.recipe?.epochs ?? p3.epoch + 1)}`,
              p3?.loss != null && ` \xB7 loss ${p3.loss.toFixed(4)}`,
              p3?.itPerSec != null && ` \xB7 ${p3.itPerSec.toFixed(2)} it/s`,
              active(job) && p3?.etaSeconds != null && ` \xB7 ETA ${Math.round(p3.etaSeconds)} s`,
              job.error && ` \xB7 ${job.error}`
            ]
          }),
          p3 && /* @__PURE__ */ a2("progress", {
            id: "train-progress",
            max: p3.totalSteps,
            value: p3.step
          }),
          /* @__PURE__ */ a2(LossChart, {
            kind: "job",
            title: "This job's loss",
            points: job.losses ?? [],
            lastStep: p3?.totalSteps,
            marks: jobMarks(job)
          }),
          finished(job) && /* @__PURE__ */ a2("div", {
            class: "preview",
            children: [
              /* @__PURE__ */ a2("h3", {
                children: [
                  "Its checkpoint, ",
                  job.checkpoint,
                  ": 4 per class, seed 1, guidance 2"
                ]
              }),
              preview && preview.checkpoint === job.checkpoint ? /* @__PURE__ */ a2("img", {
                class: "pixel",
                id: "preview-grid",
                src: preview.url,
                alt: "preview of the checkpoint"
              }) : /* @__PURE__ */ a2("p", {
                class: "note",
                children: "making a preview grid\u2026"
              }),
              /* @__PURE__ */ a2("p", {
                children: /* @__PURE__ */ a2("button", {
                  type: "button",
                  class: "primary",
                  id: "serve-checkpoint",
                  disabled: preview?.checkpoint !== job.checkpoint || swap?.serving === job.checkpoint,
                  onClick: () => swapTo("/api/train/swap"),
                  children: "Serve this checkpoint"
                })
              })
            ]
          })
        ]
      }),
      swap && /* @__PURE__ */ a2("div", {
        class: "card swapped",
        id: "swap-note",
        role: "status",
        children: [
          /* @__PURE__ */ a2("p", {
            children: [
              "Now serving ",
              /* @__PURE__ */ a2("strong", {
                children: swap.serving
              }),
              swap.previous ? ` (before it: ${swap.previous}). ` : ". ",
              "The sprites tab makes its grids with it."
            ]
          }),
          swap.previous && /* @__PURE__ */ a2("button", {
            type: "button",
            id: "revert-model",
            onClick: () => swapTo("/api/train/revert"),
            children: [
              "Back to ",
              swap.previous
            ]
          })
        ]
      }),
      history2 && history2.epochs.length > 1 && /* @__PURE__ */ a2("div", {
        class: "card",
        children: /* @__PURE__ */ a2(LossChart, {
          kind: "history",
          title: `How ${history2.source} was trained: mean loss per epoch`,
          points: history2.epochs.map((e3) => ({
            step: e3.step,
            loss: e3.mean_loss
          })),
          marks: historyMarks(history2.epochs)
        })
      })
    ]
  });
}

// static/url_state.ts
var DEFAULT_SETTINGS = {
  count: String(GRID_DEFAULTS.count),
  steps: String(GRID_DEFAULTS.steps),
  eta: String(GRID_DEFAULTS.eta),
  seed: String(GRID_DEFAULTS.seed),
  guidance: String(GRID_DEFAULTS.guidance)
};
var SETTING_KEYS = Object.keys(DEFAULT_SETTINGS);
function readState(search) {
  const q2 = new URLSearchParams(search);
  const settings = {
    ...DEFAULT_SETTINGS
  };
  for (const k2 of SETTING_KEYS) {
    const v3 = q2.get(k2);
    if (v3 !== null) settings[k2] = v3.slice(0, 40);
  }
  const mixText = q2.get("mix");
  const mix = mixText === null ? null : mixText.split(",").slice(0, 64).map((w3) => Math.min(1, Math.max(0, Number(w3) || 0)));
  return {
    tab: q2.get("tab") ?? "sprites",
    settings,
    mix,
    dataset: {
      kind: q2.get("kind") === "kept" ? "kept" : "removed",
      cls: q2.get("class") ?? ""
    }
  };
}
function stateQuery(s3) {
  const q2 = new URLSearchParams();
  if (s3.tab !== "sprites") q2.set("tab", s3.tab);
  for (const k2 of SETTING_KEYS) q2.set(k2, s3.settings[k2]);
  if (s3.mix) q2.set("mix", s3.mix.map((w3) => String(Number(w3.toFixed(2)))).join(","));
  if (s3.dataset.kind !== "removed") q2.set("kind", s3.dataset.kind);
  if (s3.dataset.cls) q2.set("class", s3.dataset.cls);
  return q2.toString();
}
function writeState(s3) {
  const query = stateQuery(s3);
  if (location.search.slice(1) === query) return;
  history.replaceState(null, "", `${location.pathname}?${query}${location.hash}`);
}

// static/app.tsx
function siteConfig() {
  const tag = document.getElementById("sprite-site");
  return tag ? JSON.parse(tag.textContent ?? "{}") : void 0;
}
var TABS = [
  {
    id: "sprites",
    label: "Sprites",
    offered: () => true,
    render: (c3) => c3.classes && c3.mode && (!c3.site || c3.onDevice) ? /* @__PURE__ */ a2(SpritesTab, {
      classes: c3.classes,
      engine: c3.onDevice,
      limits: c3.onDevice ? void 0 : c3.health?.limits,
      settings: c3.state.settings,
      setSettings: (settings) => c3.update({
        settings
      }),
      mix: c3.state.mix,
      setMix: (mix) => c3.update({
        mix
      }),
      modelVersion: c3.modelVersion
    }) : null
  },
  {
    id: "dataset",
    label: "Dataset",
    offered: (c3) => !c3.site,
    render: (c3) => /* @__PURE__ */ a2(DatasetTab, {
      view: c3.state.dataset,
      setView: (dataset) => c3.update({
        dataset
      }),
      modelVersion: c3.modelVersion
    })
  },
  {
    id: "train",
    label: "Training",
    offered: (c3) => Boolean(c3.health?.training),
    render: (c3) => /* @__PURE__ */ a2(TrainTab, {
      onModelChange: c3.modelChanged
    })
  },
  {
    id: "quality",
    label: "Quality",
    offered: (c3) => !c3.site,
    render: (c3) => /* @__PURE__ */ a2(QualityTab, {
      modelVersion: c3.modelVersion
    })
  }
];
function App() {
  const site = siteConfig();
  const [state, setState] = d2(() => readState(location.search));
  const [classes, setClasses] = d2();
  const [health, setHealth] = d2();
  const [error, setError] = d2("");
  const [engine, setEngine] = d2({
    state: "loading"
  });
  const [mode, setMode] = d2();
  const [modeChosen, setModeChosen] = d2(false);
  const [modelVersion, setModelVersion] = d2(0);
  const [visited, setVisited] = d2(() => /* @__PURE__ */ new Set([
    state.tab
  ]));
  const update = (s3) => setState((old) => {
    const next = {
      ...old,
      ...s3
    };
    writeState(next);
    return next;
  });
  A2(() => writeState(state), []);
  A2(() => {
    if (site) return;
    api("/api/classes").then((r3) => setClasses(r3.classes), (e3) => setError(e3.message));
    api("/api/health").then(setHealth, () => {
    });
  }, [
    modelVersion
  ]);
  const gpu = T2(void 0);
  A2(() => {
    (async () => {
      if (!await webGpuAdapter()) {
        return setEngine({
          state: "unavailable",
          reason: "this browser gives no WebGPU adapter"
        });
      }
      const device = await loadOnDevice(site?.model ?? SERVER_MODEL_URL, gpu.current);
      gpu.current = device.gpu;
      setEngine({
        state: "ready",
        device
      });
      if (site) setClasses(device.model.classNames.map((name, index) => ({
        index,
        name
      })));
    })().catch((e3) => setEngine({
      state: "unavailable",
      reason: e3.message
    }));
  }, [
    modelVersion
  ]);
  A2(() => {
    if (engine.state !== "loading" && !modeChosen) {
      setMode(engine.state === "ready" ? "device" : "server");
    }
  }, [
    engine
  ]);
  const ready = engine.state === "ready" ? engine.device : void 0;
  const onDevice = mode === "device" && ready ? ready : void 0;
  const context = {
    site: Boolean(site),
    health,
    classes,
    onDevice,
    mode,
    state,
    update,
    modelVersion,
    modelChanged: () => setModelVersion((v3) => v3 + 1)
  };
  const tabs = TABS.filter((t3) => t3.offered(context));
  const tab = tabs.some((t3) => t3.id === state.tab) ? state.tab : "sprites";
  const show = (id) => {
    setVisited((v3) => /* @__PURE__ */ new Set([
      ...v3,
      id
    ]));
    update({
      tab: id
    });
  };
  return /* @__PURE__ */ a2($, {
    children: [
      /* @__PURE__ */ a2("h1", {
        children: "Sprite Diffusion"
      }),
      /* @__PURE__ */ a2("p", {
        class: "note",
        id: "adapter",
        children: onDevice ? `on this device: ${onDevice.gpu.description}` : health?.adapter
      }),
      /* @__PURE__ */ a2("div", {
        class: "mode",
        children: [
          /* @__PURE__ */ a2("label", {
            children: [
              /* @__PURE__ */ a2("input", {
                type: "checkbox",
                id: "on-device",
                checked: mode === "device",
                disabled: !ready || Boolean(site),
                onChange: (e3) => {
                  setModeChosen(true);
                  setMode(e3.target.checked ? "device" : "server");
                }
              }),
              "run on this device"
            ]
          }),
          /* @__PURE__ */ a2("span", {
            class: "note",
            id: "engine-note",
            children: engine.state === "loading" ? "loading the model for this device\u2026" : engine.state === "unavailable" ? `${site ? "no WebGPU here" : "on the server"}: ${engine.reason}` : site ? "a static site: sprites are made in this browser only" : "or on the server, unticked"
          })
        ]
      }),
      /* @__PURE__ */ a2("nav", {
        role: "tablist",
        children: tabs.map((t3) => /* @__PURE__ */ a2("button", {
          type: "button",
          role: "tab",
          id: `tab-${t3.id}`,
          "aria-selected": tab === t3.id,
          onClick: () => show(t3.id),
          children: t3.label
        }, t3.id))
      }),
      error && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: error
      }),
      site && engine.state === "unavailable" && /* @__PURE__ */ a2("div", {
        class: "error",
        role: "alert",
        children: [
          "This site makes its sprites with WebGPU, and there is none here (",
          engine.reason,
          "). Current Chrome and Edge have it, as do Safari 26 and Firefox 141 on Windows; elsewhere it may be behind a flag."
        ]
      }),
      tabs.filter((t3) => visited.has(t3.id) || t3.id === tab).map((t3) => /* @__PURE__ */ a2("div", {
        role: "tabpanel",
        id: `panel-${t3.id}`,
        hidden: t3.id !== tab,
        children: t3.render(context)
      }, t3.id))
    ]
  });
}
Q(/* @__PURE__ */ a2(App, {}), document.getElementById("app"));
