#!/usr/bin/env python3
"""Generates N hand-over rows (CSV, Chinese headers, BOM) for the complaint
import benchmarks: gen_complaints.py N FILE [PAD] (PAD: extra narrative
characters per row). Seeded: the same arguments give the same file."""
import csv, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
# PAD: extra characters of narrative per complaint (the 200 MB file of issue 5)
pad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
narrative = "举报人称该问题已持续多年，周边居民反映强烈，" * (pad // 22 + 1)
random.seed(7)
counties = ["城关区", "七里河区", "西固区", "安宁区", "永登县", "金川区", "白银区", "靖远县", "秦州区",
            "麦积区", "凉州区", "民勤县", "甘州区", "崆峒区", "肃州区", "敦煌市", "西峰区", "安定区",
            "武都区", "临夏市", "合作市"]
channels = ["电话", "来信", "网络", "12345"]
types = ["大气", "水", "土壤", "噪声", "固废", "生态", "大气、噪声", "水、土壤"]
subjects = ["餐饮油烟直排", "夜间施工噪声扰民", "砂石料场扬尘", "养殖粪污直排河道", "工业废渣随意倾倒",
            "燃煤小锅炉冒黑烟", "加油站油罐渗漏", "垃圾填埋场渗滤液外溢", "尾矿库渗漏", "违规采砂破坏河道"]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("\ufeff")
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["交办编号", "交办批次", "受理时间", "来源渠道", "举报内容", "污染类型", "所在县区", "详细地址",
                "经度", "纬度", "被举报对象", "件别", "举报人姓名", "联系电话"])
    for i in range(n):
        c = random.choice(counties)
        w.writerow(["X62%09d" % i, i // 4000 + 1, "2023-%02d-%02d %02d:%02d" % (11 + i % 2, 1 + i % 28, i % 24, i % 60),
                    random.choice(channels),
                    "%s%s，群众多次反映未解决（第%d件）。%s" % (c, random.choice(subjects), i, narrative[:pad]),
                    random.choice(types), c, "%s某路%d号" % (c, i % 997),
                    "%.4f" % (100 + random.random() * 6), "%.4f" % (34 + random.random() * 5),
                    "某企业%d有限公司" % (i % 5000), random.choice(["一般件", "重点件"]),
                    random.choice("赵钱孙李周吴郑王") + random.choice(["伟", "芳", "娜", "敏"]),
                    "139%08d" % i])
