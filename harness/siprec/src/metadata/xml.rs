//! The XML layer: quick-xml's namespace-aware reader turned into a small owned tree, the
//! generic element type that keeps extension content, and escaping for the writer.
//!
//! Reading is done by [`quick_xml::NsReader`]; this file adds the well-formedness checks
//! quick-xml leaves to its caller (a single root, no text outside it, every element
//! closed, no `<` in attribute values, legal characters, declared prefixes), the DTD
//! refusal, entity handling without expansion, and the resource limits.

use super::error::{Limits, MetadataError};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde::Serialize;

/// The XML namespace (`xml:lang`), bound to the `xml` prefix by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An XML element kept as data: foreign-namespace extensions, unknown elements, and any
/// content recproof does not model with its own type.
///
/// Names are kept by namespace URI and local name, not by prefix: prefixes are not part of
/// an element's meaning, and the writer chooses them canonically (the element's namespace
/// becomes the default namespace, attribute namespaces get `p1`, `p2`, …). Comments and
/// processing instructions are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct XmlElement {
    /// Namespace URI, or `None` for an unqualified element.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes, in document order, without namespace declarations.
    pub attributes: Vec<XmlAttribute>,
    /// Child elements and text, in document order.
    pub children: Vec<XmlNode>,
}

/// An attribute of an [`XmlElement`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct XmlAttribute {
    /// Namespace URI (`None` for the usual unprefixed attribute).
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// Value, with references resolved and whitespace normalised as XML 1.0 §3.3.3 says.
    pub value: String,
}

/// Content of an [`XmlElement`].
///
/// Canonical form (what [`super::parse`] produces and what round-trips exactly): no two
/// text nodes in a row, no empty text node, and no whitespace-only text node in an element
/// that also has element children (that whitespace is indentation and is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum XmlNode {
    /// A child element.
    Element(XmlElement),
    /// Character data (entity and character references resolved, CDATA merged in).
    Text(String),
}

impl XmlElement {
    /// An element with no attributes and no content.
    pub fn new(namespace: Option<&str>, name: &str) -> Self {
        Self {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: adds an unqualified attribute.
    pub fn with_attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.push(XmlAttribute {
            namespace: None,
            name: name.to_owned(),
            value: value.to_owned(),
        });
        self
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: XmlElement) -> Self {
        self.children.push(XmlNode::Element(child));
        self
    }

    /// Builder: appends text.
    pub fn with_text(mut self, text: &str) -> Self {
        self.children.push(XmlNode::Text(text.to_owned()));
        self
    }

    /// The value of the unqualified attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The element's text: all text children concatenated (not descendants).
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                XmlNode::Text(t) => Some(t.as_str()),
                XmlNode::Element(_) => None,
            })
            .collect()
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &XmlElement> {
        self.children.iter().filter_map(|c| match c {
            XmlNode::Element(e) => Some(e),
            XmlNode::Text(_) => None,
        })
    }

    /// True when the element is `name` in `namespace`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    /// A self-contained serialisation (namespace declared on the element itself), as
    /// [`super::to_xml`] writes it, without indentation. For evidence and logs.
    pub fn to_xml_string(&self) -> String {
        let mut w = quick_xml::Writer::new(Vec::new());
        // Writing into a Vec cannot fail; an error would only mean an empty excerpt.
        if write_element(&mut w, self, None).is_err() {
            return String::new();
        }
        String::from_utf8_lossy(&w.into_inner()).into_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// An element as read, with its byte span, before it is mapped to the model.
#[derive(Debug, Clone)]
pub(crate) struct RawElement {
    pub(crate) ns: Option<String>,
    pub(crate) local: String,
    pub(crate) attrs: Vec<RawAttr>,
    pub(crate) children: Vec<RawNode>,
    /// Offset of `<` of the start tag.
    pub(crate) start: usize,
    /// Offset just past the end tag (or `/>`).
    pub(crate) end: usize,
}

/// An attribute as read (namespace declarations excluded).
#[derive(Debug, Clone)]
pub(crate) struct RawAttr {
    pub(crate) ns: Option<String>,
    pub(crate) local: String,
    /// The name as written (`xml:lang`, `p:x`), for messages.
    pub(crate) qname: String,
    pub(crate) value: String,
}

/// Content as read.
#[derive(Debug, Clone)]
pub(crate) enum RawNode {
    Element(RawElement),
    Text(String),
}

impl RawElement {
    /// The element without positions, dropping indentation-only text when the element
    /// also has element children (the canonical form of [`XmlNode`]).
    pub(crate) fn to_xml_element(&self) -> XmlElement {
        let has_elements = self
            .children
            .iter()
            .any(|c| matches!(c, RawNode::Element(_)));
        let children = self
            .children
            .iter()
            .filter_map(|c| match c {
                RawNode::Element(e) => Some(XmlNode::Element(e.to_xml_element())),
                RawNode::Text(t) if t.is_empty() => None,
                RawNode::Text(t) if has_elements && is_xml_whitespace(t) => None,
                RawNode::Text(t) => Some(XmlNode::Text(t.clone())),
            })
            .collect();
        XmlElement {
            namespace: self.ns.clone(),
            name: self.local.clone(),
            attributes: self
                .attrs
                .iter()
                .map(|a| XmlAttribute {
                    namespace: a.ns.clone(),
                    name: a.local.clone(),
                    value: a.value.clone(),
                })
                .collect(),
            children,
        }
    }

    /// Child elements.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &RawElement> {
        self.children.iter().filter_map(|c| match c {
            RawNode::Element(e) => Some(e),
            RawNode::Text(_) => None,
        })
    }

    /// Concatenated text children.
    pub(crate) fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                RawNode::Text(t) => Some(t.as_str()),
                RawNode::Element(_) => None,
            })
            .collect()
    }

    fn push_text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(RawNode::Text(t)) = self.children.last_mut() {
            t.push_str(s);
        } else {
            self.children.push(RawNode::Text(s.to_owned()));
        }
    }
}

/// True for a string of XML whitespace only (space, tab, CR, LF), including "".
pub(crate) fn is_xml_whitespace(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// XML 1.0 `Char` production (§2.2). Rust `char` already excludes surrogates.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Offset (in bytes) of the first character XML 1.0 does not allow, if any.
fn first_illegal_char(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|(_, c)| !is_xml_char(*c))
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn not_well_formed(offset: usize, reason: impl Into<String>) -> MetadataError {
    MetadataError::NotWellFormed {
        offset,
        reason: reason.into(),
    }
}

/// Decodes `bytes` as UTF-8 (a UTF-8 byte-order mark is skipped) and checks the size
/// limit. Returns the text and the number of bytes skipped before it.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<(&'a str, usize), MetadataError> {
    if bytes.len() > limits.max_bytes {
        return Err(MetadataError::TooLarge {
            len: bytes.len(),
            max: limits.max_bytes,
        });
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(MetadataError::NotUtf8 { offset: 0 });
    }
    let (body, skipped) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    };
    match std::str::from_utf8(body) {
        Ok(s) => Ok((s, skipped)),
        Err(e) => Err(MetadataError::NotUtf8 {
            offset: e.valid_up_to() + skipped,
        }),
    }
}

/// Reads `input` into a tree. `base` is added to every offset (the skipped BOM), so that
/// offsets point into the caller's bytes.
pub(crate) fn read_tree(
    input: &str,
    base: usize,
    limits: &Limits,
) -> Result<RawElement, MetadataError> {
    if let Some((at, c)) = first_illegal_char(input) {
        return Err(not_well_formed(
            base + at,
            format!(
                "character U+{:04X} is not allowed in XML 1.0 (not even as a reference)",
                u32::from(c)
            ),
        ));
    }
    let mut reader = NsReader::from_str(input);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        config.check_comments = true;
        config.trim_text(false);
    }
    let mut stack: Vec<RawElement> = Vec::new();
    let mut root: Option<RawElement> = None;
    let mut elements = 0usize;
    let mut first_event = true;
    loop {
        let pos = base + to_usize(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                return Err(not_well_formed(
                    base + to_usize(reader.error_position()),
                    e.to_string(),
                ));
            }
        };
        let was_first = std::mem::replace(&mut first_event, false);
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(not_well_formed(
                    pos,
                    "a second root element after the first one ended",
                ));
            }
            Event::Start(start) => {
                elements += 1;
                check_limits(stack.len() + 1, elements, pos, limits)?;
                let el = open_element(&reader, &start, pos)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                elements += 1;
                check_limits(stack.len() + 1, elements, pos, limits)?;
                let mut el = open_element(&reader, &start, pos)?;
                el.end = base + to_usize(reader.buffer_position());
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err(not_well_formed(pos, "end tag without a start tag"));
                };
                el.end = base + to_usize(reader.buffer_position());
                attach(&mut stack, &mut root, el);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.push_text(&content),
                    None if is_xml_whitespace(&content) => {}
                    None => {
                        return Err(not_well_formed(pos, "text outside the root element"));
                    }
                }
            }
            Event::CData(cdata) => match stack.last_mut() {
                Some(el) => el.push_text(&cdata.xml10_content()),
                None => {
                    return Err(not_well_formed(
                        pos,
                        "CDATA section outside the root element",
                    ));
                }
            },
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference, pos)?;
                match stack.last_mut() {
                    Some(el) => el.push_text(&resolved),
                    None => {
                        return Err(not_well_formed(pos, "reference outside the root element"));
                    }
                }
            }
            Event::Decl(decl) => {
                if !was_first || pos != base {
                    return Err(not_well_formed(
                        pos,
                        "XML declaration is only allowed at the very start of the document",
                    ));
                }
                match decl.version() {
                    Ok(v) if v == "1.0" || v == "1.1" => {}
                    Ok(v) => {
                        return Err(not_well_formed(pos, format!("unknown XML version `{v}`")));
                    }
                    Err(e) => return Err(not_well_formed(pos, e.to_string())),
                }
            }
            Event::DocType(_) => return Err(MetadataError::DtdRefused { offset: pos }),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(not_well_formed(
                        pos,
                        format!("element <{}> is never closed", open.local),
                    ));
                }
                return root.ok_or_else(|| not_well_formed(pos, "no root element"));
            }
        }
    }
}

fn check_limits(
    depth: usize,
    elements: usize,
    offset: usize,
    limits: &Limits,
) -> Result<(), MetadataError> {
    if depth > limits.max_depth {
        return Err(MetadataError::TooDeep {
            max: limits.max_depth,
            offset,
        });
    }
    if elements > limits.max_elements {
        return Err(MetadataError::TooManyElements {
            max: limits.max_elements,
            offset,
        });
    }
    Ok(())
}

fn attach(stack: &mut [RawElement], root: &mut Option<RawElement>, el: RawElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(RawNode::Element(el)),
        None => *root = Some(el),
    }
}

/// Resolves a character reference or one of the five predefined entities. Nothing else is
/// ever expanded: there is no DTD to declare it.
fn resolve_reference(
    reference: &quick_xml::events::BytesRef<'_>,
    offset: usize,
) -> Result<String, MetadataError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c.to_string()),
            Ok(Some(c)) => Err(not_well_formed(
                offset,
                format!(
                    "character reference to U+{:04X}, which XML 1.0 does not allow",
                    u32::from(c)
                ),
            )),
            Ok(None) | Err(_) => Err(not_well_formed(
                offset,
                format!("invalid character reference `&{};`", &**reference),
            )),
        };
    }
    let name: &str = reference;
    match name {
        "lt" => Ok("<".into()),
        "gt" => Ok(">".into()),
        "amp" => Ok("&".into()),
        "apos" => Ok("'".into()),
        "quot" => Ok("\"".into()),
        other => Err(MetadataError::UndefinedEntity {
            name: other.to_owned(),
            offset,
        }),
    }
}

fn resolved_namespace(
    result: ResolveResult<'_>,
    qname: &str,
    offset: usize,
) -> Result<Option<String>, MetadataError> {
    match result {
        // The resolver keeps the declaration as written (`&amp;` not resolved); the
        // declaration was already checked in `open_element`, so unescaping succeeds.
        ResolveResult::Bound(ns) => match quick_xml::escape::unescape(ns.0) {
            Ok(uri) => Ok(Some(uri.into_owned())),
            Err(e) => Err(not_well_formed(
                offset,
                format!("namespace of `{qname}`: {e}"),
            )),
        },
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(not_well_formed(
            offset,
            format!("namespace prefix `{prefix}` of `{qname}` is not declared"),
        )),
    }
}

fn open_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    offset: usize,
) -> Result<RawElement, MetadataError> {
    let name = start.name();
    let qname: &str = name.as_ref();
    let (ns, local) = reader.resolver().resolve_element(name);
    let ns = resolved_namespace(ns, qname, offset)?;
    let local_name: &str = local.as_ref();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| not_well_formed(offset, e.to_string()))?;
        let key: &str = attr.key.as_ref();
        if attr.value.contains('<') {
            return Err(not_well_formed(
                offset,
                format!("attribute `{key}` contains `<`, which must be written &lt;"),
            ));
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| attribute_value_error(key, &attr.value, offset, &e))?;
        if let Some((_, c)) = first_illegal_char(&value) {
            return Err(not_well_formed(
                offset,
                format!(
                    "attribute `{key}` refers to U+{:04X}, which XML 1.0 does not allow",
                    u32::from(c)
                ),
            ));
        }
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (attr_ns, attr_local) = reader.resolver().resolve_attribute(attr.key);
        let attr_ns = resolved_namespace(attr_ns, key, offset)?;
        let attr_local: &str = attr_local.as_ref();
        attrs.push(RawAttr {
            ns: attr_ns,
            local: attr_local.to_owned(),
            qname: key.to_owned(),
            value: value.into_owned(),
        });
    }
    Ok(RawElement {
        ns,
        local: local_name.to_owned(),
        attrs,
        children: Vec::new(),
        start: offset,
        end: offset,
    })
}

/// Maps a failed attribute-value normalisation: an unknown entity becomes
/// [`MetadataError::UndefinedEntity`], anything else is not well-formed.
fn attribute_value_error(
    key: &str,
    raw: &str,
    offset: usize,
    err: &quick_xml::Error,
) -> MetadataError {
    // Find the first `&name;` that is neither predefined nor a character reference.
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        let after = rest.get(amp + 1..).unwrap_or("");
        let Some(semi) = after.find(';') else { break };
        let name = after.get(..semi).unwrap_or("");
        if !name.starts_with('#') && !matches!(name, "lt" | "gt" | "amp" | "apos" | "quot") {
            return MetadataError::UndefinedEntity {
                name: name.to_owned(),
                offset,
            };
        }
        rest = after.get(semi + 1..).unwrap_or("");
    }
    not_well_formed(offset, format!("attribute `{key}`: {err}"))
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Escapes character data. Hand-written rather than quick-xml's `escape` because the
/// output must also survive XML's end-of-line normalisation (`\r` is written `&#13;`) and
/// must stay well-formed when the model holds characters XML cannot carry at all (those
/// become U+FFFD).
pub(crate) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value for double quotes. Tab, LF and CR are written as character
/// references because attribute-value normalisation would otherwise turn them into spaces.
pub(crate) fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// True for a valid XML `NCName` (a name without a colon). Checked before writing so the
/// output is always well-formed even when a model was built with a bad name.
pub(crate) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The writer type used throughout.
pub(crate) type XmlWriter = quick_xml::Writer<Vec<u8>>;

/// Writes an element. `default_ns` is the default namespace in scope at this point; the
/// element declares its own when it differs. Elements or attributes with names that are
/// not valid XML names are skipped (they cannot be written well-formed); duplicate
/// attributes after the first are skipped for the same reason.
pub(crate) fn write_element(
    w: &mut XmlWriter,
    el: &XmlElement,
    default_ns: Option<&str>,
) -> std::io::Result<()> {
    if !is_ncname(&el.name) {
        return Ok(());
    }
    let mut start = BytesStart::new(el.name.as_str());
    let own_ns = el.namespace.as_deref();
    if own_ns != default_ns {
        push_raw_attr(&mut start, "xmlns", &escape_attr(own_ns.unwrap_or("")));
    }
    let mut prefixes: Vec<(String, String)> = Vec::new(); // (namespace, prefix)
    let mut seen: std::collections::HashSet<(Option<&str>, &str)> =
        std::collections::HashSet::new();
    for attr in &el.attributes {
        let key = (attr.namespace.as_deref(), attr.name.as_str());
        if !is_ncname(&attr.name) || seen.contains(&key) {
            continue;
        }
        let qname = match attr.namespace.as_deref() {
            None if attr.name == "xmlns" => continue,
            None => attr.name.clone(),
            Some("http://www.w3.org/2000/xmlns/") => continue,
            Some(XML_NS) => format!("xml:{}", attr.name),
            Some(ns) => {
                let prefix = match prefixes.iter().find(|(n, _)| n == ns) {
                    Some((_, p)) => p.clone(),
                    None => {
                        let p = format!("p{}", prefixes.len() + 1);
                        push_raw_attr(&mut start, &format!("xmlns:{p}"), &escape_attr(ns));
                        prefixes.push((ns.to_owned(), p.clone()));
                        p
                    }
                };
                format!("{prefix}:{}", attr.name)
            }
        };
        seen.insert(key);
        push_raw_attr(&mut start, &qname, &escape_attr(&attr.value));
    }
    let children: Vec<&XmlNode> = el
        .children
        .iter()
        .filter(|c| match c {
            XmlNode::Text(t) => !t.is_empty(),
            XmlNode::Element(e) => is_ncname(&e.name),
        })
        .collect();
    if children.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    let end = start.to_end().into_owned();
    w.write_event(Event::Start(start))?;
    for child in children {
        match child {
            XmlNode::Text(t) => w.write_event(Event::Text(
                quick_xml::events::BytesText::from_escaped(escape_text(t)),
            ))?,
            XmlNode::Element(e) => write_element(w, e, own_ns)?,
        }
    }
    w.write_event(Event::End(end))
}

/// Adds an attribute whose value is already escaped.
pub(crate) fn push_raw_attr(start: &mut BytesStart<'_>, key: &str, escaped_value: &str) {
    start.push_attribute(quick_xml::events::attributes::Attribute {
        key: quick_xml::name::QName(key),
        value: std::borrow::Cow::Owned(escaped_value.to_owned()),
    });
}
