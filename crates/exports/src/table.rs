//! The evaluation as a table: CSV and XLSX with the same Chinese columns.

use rust_xlsxwriter::{Format, FormatAlign, Workbook};

use crate::{Evaluation, ExportError, RegionRow, hours};

/// The columns, in order.
pub const COLUMNS: [&str; 20] = [
    "区划代码",
    "县（市、区）",
    "常住人口",
    "人口年份",
    "人口数据来源",
    "注册志愿者数",
    "每10万常住人口志愿者数",
    "是否达标",
    "距达标缺口（人）",
    "年内参与服务志愿者数",
    "在册队伍数",
    "未达活动频次队伍数",
    "参与不足2次志愿者数",
    "未建队相关部门和必设单位数",
    "活动次数",
    "参与人次",
    "服务时长（小时）",
    "覆盖人数",
    "媒体宣传篇数",
    "年度总结状态",
];

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "达标",
        Some(false) => "未达标",
        None => "无人口数据",
    }
}

/// A cell: text, or a number written as a number in XLSX.
enum Cell {
    Text(String),
    Int(u64),
    Decimal(String),
    Empty,
}

fn cells(r: &RegionRow) -> [Cell; 20] {
    let pop = r.population.as_ref();
    [
        Cell::Text(r.code.clone()),
        Cell::Text(r.name.clone()),
        pop.map_or(Cell::Empty, |p| Cell::Int(p.count)),
        pop.map_or(Cell::Empty, |p| {
            Cell::Int(u64::try_from(p.year).unwrap_or(0))
        }),
        pop.map_or(Cell::Empty, |p| Cell::Text(p.source.clone())),
        Cell::Int(r.registered_volunteers),
        r.per_100k.clone().map_or(Cell::Empty, Cell::Decimal),
        Cell::Text(yes_no(r.passes).to_owned()),
        r.shortfall.map_or(Cell::Empty, Cell::Int),
        Cell::Int(r.active_volunteers),
        Cell::Int(r.teams),
        Cell::Int(r.teams_below_minimum),
        Cell::Int(r.volunteers_below_minimum),
        Cell::Int(r.hosts_without_team),
        Cell::Int(r.activities),
        Cell::Int(r.participations),
        Cell::Decimal(hours(r.volunteer_minutes)),
        Cell::Int(r.people_reached),
        Cell::Int(r.media_pieces),
        Cell::Text(r.summary_status.clone()),
    ]
}

fn rows(e: &Evaluation) -> impl Iterator<Item = &RegionRow> {
    e.counties.iter().chain(std::iter::once(&e.city))
}

/// RFC 4180 CSV in UTF-8 with a byte-order mark: a header row, one row per county, the city last.
pub fn to_csv(e: &Evaluation) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    w.write_record(COLUMNS)?;
    for r in rows(e) {
        let record: Vec<String> = cells(r)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) | Cell::Decimal(s) => s,
                Cell::Int(n) => n.to_string(),
                Cell::Empty => String::new(),
            })
            .collect();
        w.write_record(&record)?;
    }
    w.into_inner()
        .map_err(|e| ExportError::CsvBuffer(e.error().to_string()))
}

/// An XLSX workbook with one sheet: a title, the basis (date, threshold, position), the header and the
/// rows; numbers are numbers, the ratio has two decimals.
pub fn to_xlsx(e: &Evaluation) -> Result<Vec<u8>, ExportError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("年度评估")?;
    let title = Format::new().set_bold().set_font_size(14);
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_background_color("#DDEBF7");
    let ratio = Format::new().set_num_format("0.00");
    let hours_format = Format::new().set_num_format("0.0");
    let total = Format::new().set_bold();
    sheet.write_string_with_format(
        0,
        0,
        format!(
            "{}结核病防治志愿服务年度评估（{}）",
            e.city_name,
            e.date.format("%Y年%m月%d日")
        ),
        &title,
    )?;
    sheet.write_string(
        1,
        0,
        format!(
            "达标线：每10万常住人口不少于{}名志愿者；数据截至读模型位置 {}",
            e.required_per_100k, e.as_of
        ),
    )?;
    const HEADER_ROW: u32 = 3;
    for (col, name) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(HEADER_ROW, col, name, &header)?;
        sheet.set_column_width(col, if col == 4 { 18 } else { 12 })?;
    }
    sheet.set_row_height(HEADER_ROW, 45)?;
    let last = e.counties.len();
    for (i, r) in rows(e).enumerate() {
        let row = HEADER_ROW + 1 + u32::try_from(i).unwrap_or(u32::MAX - HEADER_ROW - 1);
        for (col, cell) in (0u16..).zip(cells(r)) {
            match cell {
                Cell::Text(s) if i == last => {
                    sheet.write_string_with_format(row, col, s, &total)?;
                }
                Cell::Text(s) => {
                    sheet.write_string(row, col, s)?;
                }
                Cell::Int(n) => {
                    // Counts are far below 2^53: exact as f64.
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "counts of people and activities are far below 2^53"
                    )]
                    sheet.write_number(row, col, n as f64)?;
                }
                Cell::Decimal(s) => {
                    let format = if col == 16 { &hours_format } else { &ratio };
                    match s.parse::<f64>() {
                        Ok(v) => sheet.write_number_with_format(row, col, v, format)?,
                        Err(_) => sheet.write_string(row, col, s)?,
                    };
                }
                Cell::Empty => {}
            }
        }
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 2)?;
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::evaluation;

    #[test]
    fn csv_has_a_bom_the_chinese_header_and_one_row_per_county_then_the_city() {
        let bytes = to_csv(&evaluation()).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 3 + 1);
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "330602,越城区,464000,2023,2023年统计公报,47,10.12,达标,0,23,3,1,4,0,12,40,40.5,1200,5,已报送（按时）"
        );
        assert!(lines[2].contains(",柯桥区,") && lines[2].contains(",10.00,达标,"));
        assert!(lines[3].contains(",3.79,未达标,49,"), "{}", lines[3]);
        assert!(lines[4].starts_with("330600,绍兴市,"));
    }

    #[test]
    fn csv_quotes_a_field_with_a_comma() {
        let mut e = evaluation();
        e.counties[0].population = Some(crate::PopulationFigure {
            count: 464_000,
            year: 2023,
            source: "统计公报,第2版".to_owned(),
        });
        let text = String::from_utf8(to_csv(&e).unwrap()).unwrap();
        assert!(text.contains(",\"统计公报,第2版\","));
    }

    #[test]
    fn xlsx_is_written_as_a_zip_workbook() {
        let bytes = to_xlsx(&evaluation()).unwrap();
        assert!(
            bytes.starts_with(b"PK\x03\x04"),
            "an XLSX file is a zip archive"
        );
        assert!(bytes.len() > 4_000);
    }
}
