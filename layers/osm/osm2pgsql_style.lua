-- osm2pgsql flex style for Our Patch (osm2pgsql 1.8, Debian bookworm's, or newer).
--
-- Everything it needs to know (the categories of data/categories.toml, the tags kept, the base
-- map's kinds, the streets of the network) comes from a Lua table that layers/osm/osm2pgsql.py
-- generates from our Python settings and TOML files and names in OURPATCH_OSM2PGSQL_SPEC, so
-- the category table has one home. Four tables are written, under spec.prefix in spec.schema:
--   assets    every feature with a category (first matching category wins, as in Python)
--   basemap   water, green space and railways for the drawn base map (streets come from ways)
--   gazetteer addresses (addr:housenumber) and named places (place=*)
--   ways      the street network's ways with their node ids (split at junctions in Python)

local spec = dofile(assert(os.getenv('OURPATCH_OSM2PGSQL_SPEC'), 'OURPATCH_OSM2PGSQL_SPEC is not set'))

local function ids()
    return { type = 'any', id_column = 'osm_id', type_column = 'osm_type' }
end

local tables = {}

tables.assets = osm2pgsql.define_table({
    name = spec.prefix .. 'assets', schema = spec.schema, ids = ids(),
    columns = {
        { column = 'category', type = 'text', not_null = true },
        { column = 'tags', type = 'jsonb' },
        { column = 'geom', type = 'geometry', projection = 4326, not_null = true },
    },
})

tables.basemap = osm2pgsql.define_table({
    name = spec.prefix .. 'basemap', schema = spec.schema, ids = ids(),
    columns = {
        { column = 'kind', type = 'text', not_null = true },
        { column = 'geom', type = 'geometry', projection = 4326, not_null = true },
    },
})

tables.gazetteer = osm2pgsql.define_table({
    name = spec.prefix .. 'gazetteer', schema = spec.schema, ids = ids(),
    columns = {
        { column = 'what', type = 'text', not_null = true },
        { column = 'tags', type = 'jsonb' },
        { column = 'geom', type = 'geometry', projection = 4326, not_null = true },
    },
})

tables.ways = osm2pgsql.define_table({
    name = spec.prefix .. 'ways', schema = spec.schema,
    ids = { type = 'way', id_column = 'way_id' },
    columns = {
        { column = 'nodes', sql_type = 'int8[]', not_null = true },
        { column = 'tags', type = 'jsonb' },
        { column = 'geom', type = 'linestring', projection = 4326, not_null = true },
    },
})

-- "a;b" holds a value when a or b is it (OSM's multi-value tags), as pyrosm's filters read them.
local function holds(value, set)
    if value == nil then
        return false
    end
    if set[value] then
        return true
    end
    for part in string.gmatch(value, '[^;]+') do
        if set[part:match('^%s*(.-)%s*$')] then
            return true
        end
    end
    return false
end

local function category_of(tags)
    for _, cat in ipairs(spec.categories) do
        for _, rule in ipairs(cat.match) do
            local value = tags[rule.key]
            if value ~= nil then
                if rule.any then
                    if value:match('%S') then
                        return cat.id
                    end
                elseif rule.values[value] then
                    return cat.id
                end
            end
        end
    end
    return nil
end

local function pick(tags, keys)
    local out = {}
    local any = false
    for _, key in ipairs(keys) do
        if tags[key] ~= nil then
            out[key] = tags[key]
            any = true
        end
    end
    return any and out or nil
end

-- A way's shape: a closed way is an area (a line if it cannot be one), an open way a line.
local function way_geometry(object)
    if object.is_closed and #object.nodes >= 4 then
        local area = object:as_polygon()
        if not area:is_null() then
            return area
        end
    end
    return object:as_linestring()
end

local function relation_geometry(object)
    local kind = object.tags.type
    if kind == 'multipolygon' or kind == 'boundary' then
        return object:as_multipolygon()
    end
    return nil
end

local function insert(table, row)
    if row.geom ~= nil and not row.geom:is_null() then
        table:insert(row)
    end
end

local function add_common(object, make_geom, is_relation, is_node)
    local tags = object.tags
    local category = category_of(tags)
    local geom = nil
    local function shape()
        if geom == nil then
            geom = make_geom()
        end
        return geom
    end
    if category ~= nil then
        insert(tables.assets, { category = category, tags = pick(tags, spec.asset_keys), geom = shape() })
    end
    if not is_node then
        local kinds = {}
        if holds(tags.natural, spec.water_natural) then kinds[#kinds + 1] = 'water' end
        if holds(tags.natural, spec.green_natural) then kinds[#kinds + 1] = 'green' end
        if holds(tags.waterway, spec.waterways) then kinds[#kinds + 1] = 'water' end
        if holds(tags.landuse, spec.green_landuse) then kinds[#kinds + 1] = 'green' end
        if holds(tags.leisure, spec.green_leisure) then kinds[#kinds + 1] = 'green' end
        if holds(tags.railway, spec.railways) then kinds[#kinds + 1] = 'rail' end
        for _, kind in ipairs(kinds) do
            insert(tables.basemap, { kind = kind, geom = shape() })
        end
    end
    if tags['addr:housenumber'] ~= nil and not is_relation then
        insert(tables.gazetteer, { what = 'address', tags = pick(tags, spec.address_keys), geom = shape() })
    end
    if tags.place ~= nil and tags.name ~= nil then
        insert(tables.gazetteer, { what = 'place', tags = { name = tags.name }, geom = shape() })
    end
end

function osm2pgsql.process_node(object)
    add_common(object, function() return object:as_point() end, false, true)
end

function osm2pgsql.process_way(object)
    add_common(object, function() return way_geometry(object) end, false, false)
    local tags = object.tags
    if tags.highway ~= nil and not holds(tags.highway, spec.network_excluded)
            and not holds(tags.area, { yes = true }) and #object.nodes >= 2 then
        local line = object:as_linestring()
        if not line:is_null() then
            tables.ways:insert({
                nodes = '{' .. table.concat(object.nodes, ',') .. '}',
                tags = pick(tags, spec.way_keys),
                geom = line,
            })
        end
    end
end

function osm2pgsql.process_relation(object)
    add_common(object, function() return relation_geometry(object) end, true, false)
end
