#!/usr/bin/env python3
"""Regenerates benches/data/list-5000.xls.zip (zipped), the 5,000-row BIFF8 list `cargo bench --bench read`
reads (no Rust crate writes xls). Needs xlwt from PyPI:

    /tmp/fixvenv/bin/pip install xlwt==1.3.0 && /tmp/fixvenv/bin/python benches/make_bench_data.py
"""

import datetime as dt
import io
import os
import zipfile

import xlwt

HEADERS = ["STT", "Họ và tên", "Ngày sinh", "Số CCCD", "Ngày cấp", "Nơi cấp", "Chức vụ",
           "Đơn vị công tác", "Email công vụ", "Số điện thoại di động", "Nội dung đề nghị",
           "Số hiệu chứng thư số", "Nội dung thay đổi", "Lý do", "Ghi chú"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thu", "Đức"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Em", "Giang", "Hà", "Khánh", "Linh", "Nam"]


def main():
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Danh sách")
    date = xlwt.easyxf(num_format_str="dd/mm/yyyy")
    ws.write(0, 0, "DANH SÁCH ĐỀ NGHỊ CẤP CHỨNG THƯ SỐ")
    for c, h in enumerate(HEADERS):
        ws.write(2, c, h)
    for i in range(5000):
        r = 3 + i
        year = 1965 + i % 35
        name = "%s %s %s" % (FAMILY[i % 8], MIDDLE[i // 8 % 6], GIVEN[i // 48 % 10])
        ws.write(r, 0, i + 1)
        ws.write(r, 1, name)
        ws.write(r, 2, dt.date(year, 1 + i % 12, 1 + i % 28), date)
        ws.write(r, 3, "036%d%02d%06d" % (0, year % 100, i))
        ws.write(r, 6, "Giáo viên")
        ws.write(r, 7, "Trường THPT Nguyễn Khuyến")
        ws.write(r, 8, "gv%05d@namdinh.edu.vn" % i)
        ws.write(r, 9, "09%08d" % i)
        ws.write(r, 10, "Cấp mới chứng thư số")
    buf = io.BytesIO()
    wb.save(buf)
    # Committed zipped (a megabyte as xls); the bench unzips it in memory.
    info = zipfile.ZipInfo("list-5000.xls", (2022, 12, 1, 8, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "list-5000.xls.zip")
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(info, buf.getvalue())


if __name__ == "__main__":
    main()
